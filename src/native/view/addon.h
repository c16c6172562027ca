/* The functions addon.c exports, one file per concern. */
#include <node_api.h>

napi_value backing_open(napi_env env, napi_callback_info info);
napi_value backing_close(napi_env env, napi_callback_info info);
napi_value stat_entries(napi_env env, napi_callback_info info);
napi_value list_folder(napi_env env, napi_callback_info info);
