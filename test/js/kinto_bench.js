#!/usr/bin/env node
// Kinto.js (npm kinto) doing the benchmark's work on the same server as datasync's agent
// (test/js/bench_kinto.sh): two clients, A and B, each with its own in-memory local store.
//
//   node kinto_bench.js URL USER:PASS COLLECTION ROWS CHANGES
//
// Phases, one line each: "kintojs PHASE wall_ms=W cpu_ms=C peak_rss_kib=R requests=Q"
//   up       A creates ROWS records locally, then sync() uploads them
//   down     B (empty) sync() downloads them
//   inc-up   A updates CHANGES records, sync()
//   inc-down B sync() gets those changes
// requests: what the server counted during the phase (server.py GET /__test__/requests).
// Kinto.js runs in Node with its Memory adapter (IndexedDB does not exist in Node): its local
// store costs nothing on disk here, which favours it.
"use strict";
const Kinto = require("kinto").default;
const Memory = require("kinto/lib/cjs/adapters/memory").default;

async function requests(base) {
  const r = await fetch(base + "/__test__/requests");
  return (await r.json()).requests;
}

async function phase(name, base, fn) {
  const before = await requests(base);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  const after = await requests(base);
  console.log(`kintojs ${name} wall_ms=${wall.toFixed(0)} cpu_ms=${((cpu.user + cpu.system) / 1000).toFixed(0)} ` +
    `peak_rss_kib=${process.resourceUsage().maxRSS} requests=${after - before}`);
}

function client(url, cred) {
  return new Kinto({
    remote: url,
    headers: { Authorization: "Basic " + Buffer.from(cred).toString("base64") },
    adapter: () => new Memory(),
  });
}

async function sync(coll) {
  const res = await coll.sync();
  if (!res.ok) throw new Error("sync not ok: " + JSON.stringify(res.errors.slice(0, 2)));
  return res;
}

async function main([url, cred, name, rowsArg, changesArg]) {
  const rows = Number(rowsArg), changes = Number(changesArg);
  const base = url.replace(/\/v1\/?$/, "");
  const a = client(url, cred).collection(name);
  const b = client(url, cred).collection(name);

  await phase("up", base, async () => {
    for (let i = 0; i < rows; i++)
      await a.create({ id: "r" + i, title: "row " + i, n: i + 0.5 }, { useRecordId: true });
    await sync(a);
  });
  await phase("down", base, async () => {
    const res = await sync(b);
    if (res.created.length !== rows) throw new Error("B got " + res.created.length + " records");
  });
  await phase("inc-up", base, async () => {
    for (let i = 0; i < changes; i++) {
      const { data } = await a.get("r" + (i * 7) % rows);
      await a.update({ ...data, title: "changed " + i });
    }
    await sync(a);
  });
  await phase("inc-down", base, async () => {
    const res = await sync(b);
    if (res.updated.length !== changes) throw new Error("B got " + res.updated.length + " changes");
  });
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write("kinto_bench.js: " + (e.stack || e) + "\n");
  process.exit(1);
});
