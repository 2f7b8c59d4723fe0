/* fxa_int.h - what the account component's files (FxA client, tokenserver) share and nobody else needs. */
#ifndef DS_FXA_INT_H
#define DS_FXA_INT_H

struct cJSON;

/* Wipe every string of j (tokens, codes, keys ride in JSON) and delete it. NULL is fine. */
void ds_fxa_json_wipe_delete(struct cJSON *j);

#endif /* DS_FXA_INT_H */
