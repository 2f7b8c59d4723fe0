#!/usr/bin/env node
// A second, independent Kinto client for datasync's tests: Kinto's official JavaScript HTTP
// client (npm kinto-http) acting on the same collection as the agent.
//
//   node kinto_client.js URL USER:PASS [BUCKET/]COLLECTION COMMAND [ARGS...]
//   (BUCKET defaults to "default", the user's own bucket)
//
// Commands (one JSON line per result on stdout; exit 1 with the error on stderr):
//   list                    every record, sorted by id, one JSON object a line (pages followed)
//   create ID JSON          a new record (If-None-Match: *, kinto-http's safe create)
//   update ID JSON          merge JSON into the record, If-Match on the version just read
//   update-at ID LM JSON    the same with If-Match: "LM" as given (a stale version gets a 412)
//   delete ID               delete with If-Match on the version just read
//   rows FROM TO            records for table rows FROM..TO-1 (id: the table engine's
//                           base64url of "[N]", fields ~id, title "js N", n) in one
//                           kinto-http batch, which kinto-http splits by the server's limit
//   file ID                 the SHA-256 (hex) and size of the record's attachment as
//                           downloaded from its location, checked against attachment.hash
//   whoami                  the server's user object (id, bucket, principals)
"use strict";
const KintoClient = require("kinto-http").default;

async function main(argv) {
  const [url, cred, coll, cmd, ...args] = argv;
  if (!cmd) throw new Error("usage: kinto_client.js URL USER:PASS COLLECTION COMMAND [ARGS]");
  const api = new KintoClient(url, {
    headers: { Authorization: "Basic " + Buffer.from(cred).toString("base64") },
    safe: true,
  });
  const slash = coll.indexOf("/");
  const c = slash < 0 ? api.bucket("default").collection(coll)
    : api.bucket(coll.slice(0, slash)).collection(coll.slice(slash + 1));
  switch (cmd) {
    case "list": {
      const { data } = await c.listRecords({ sort: "id", pages: Infinity });
      for (const r of data) console.log(JSON.stringify(r));
      return;
    }
    case "create": {
      const { data } = await c.createRecord({ ...JSON.parse(args[1]), id: args[0] }, { safe: true });
      console.log(JSON.stringify(data));
      return;
    }
    case "update":
    case "update-at": {
      const id = args[0];
      let lm;
      let body;
      if (cmd === "update") {
        lm = (await c.getRecord(id)).data.last_modified;
        body = args[1];
      } else {
        lm = Number(args[1]);
        body = args[2];
      }
      const { data } = await c.updateRecord({ ...JSON.parse(body), id, last_modified: lm },
        { safe: true, patch: true });
      console.log(JSON.stringify(data));
      return;
    }
    case "delete": {
      const lm = (await c.getRecord(args[0])).data.last_modified;
      const { data } = await c.deleteRecord(args[0], { safe: true, last_modified: lm });
      console.log(JSON.stringify(data));
      return;
    }
    case "rows": {
      const from = Number(args[0]), to = Number(args[1]);
      const res = await c.batch((b) => {
        for (let i = from; i < to; i++)
          b.createRecord({ id: Buffer.from("[" + i + "]").toString("base64url"), "~id": i,
            title: "js " + i, n: i });
      }, { aggregate: true, safe: true });
      console.log(JSON.stringify({ published: res.published.length, errors: res.errors.length,
        conflicts: res.conflicts.length }));
      if (res.errors.length || res.conflicts.length) process.exit(1);
      return;
    }
    case "file": {
      const { data } = await c.getRecord(args[0]);
      if (!data.attachment) throw new Error("record " + args[0] + " has no attachment");
      const res = await fetch(data.attachment.location);
      if (!res.ok) throw new Error("download: HTTP " + res.status);
      const buf = Buffer.from(await res.arrayBuffer());
      const hex = require("crypto").createHash("sha256").update(buf).digest("hex");
      if (hex !== data.attachment.hash) throw new Error("attachment hash mismatch");
      console.log(JSON.stringify({ sha256: hex, size: buf.length }));
      return;
    }
    case "whoami": {
      const info = await api.fetchServerInfo();
      console.log(JSON.stringify(info.user || {}));
      return;
    }
    default:
      throw new Error("unknown command " + cmd);
  }
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write("kinto_client.js: " + (e.data ? JSON.stringify(e.data) : "") + " " +
    e.message + "\n");
  process.exit(1);
});
