/*
 * smbnotify's optional native addon for live views: what Node cannot do for a FUSE file system,
 * or does too slowly for one. Without it a view works all the same: passthrough.ts and
 * readdirplus.ts say what is then done instead.
 *   passthrough.c  FUSE passthrough's two ioctls (root views: the kernel does the file I/O)
 *   entries.c      a folder's names and its entries' attributes, read for READDIRPLUS
 */
#include <node_api.h>
#include "addon.h"

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"backingOpen", NULL, backing_open, NULL, NULL, NULL, napi_default, NULL},
    {"backingClose", NULL, backing_close, NULL, NULL, NULL, napi_default, NULL},
    {"statEntries", NULL, stat_entries, NULL, NULL, NULL, napi_default, NULL},
    {"listFolder", NULL, list_folder, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE_INIT() {
  return init(env, exports);
}
