/*
 * smbnotify's binding to the system's MIT Kerberos GSSAPI (RFC 2743/2744), plain Node-API C.
 *
 * It does only what SMB needs and no npm package offers: a krb5 security context driven token by
 * token (the SPNEGO wrapping is done in TypeScript), the context's session key through
 * GSS_C_INQ_SSPI_SESSION_KEY (the key MS-SMB2 3.2.5.3.1 derives SMB keys from), MICs for the
 * SPNEGO mechListMIC, and a look at a credential cache (principal, TGT end time) so that errors
 * can name the user. Credential caches of every type the library knows (FILE, DIR, KEYRING, KCM)
 * work, KRB5CCNAME and KRB5_CLIENT_KTNAME are honoured by the library itself.
 *
 * Errors are thrown as Error objects with `major`, `minor` (the krb5 error code, signed) and a
 * message from gss_display_status.
 */
#include <node_api.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <gssapi/gssapi_ext.h>
#include <krb5/krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                    \
  do {                                                                 \
    if ((call) != napi_ok) {                                           \
      napi_throw_error(env, NULL, "gssapi addon: Node-API call failed"); \
      return NULL;                                                     \
    }                                                                  \
  } while (0)

typedef struct {
  gss_ctx_id_t ctx;
  gss_cred_id_t cred;
  gss_name_t target;
} Context;

static void context_free(Context *c) {
  OM_uint32 minor;
  if (c->ctx != GSS_C_NO_CONTEXT) gss_delete_sec_context(&minor, &c->ctx, GSS_C_NO_BUFFER);
  if (c->cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &c->cred);
  if (c->target != GSS_C_NO_NAME) gss_release_name(&minor, &c->target);
}

static void context_finalize(napi_env env, void *data, void *hint) {
  context_free((Context *)data);
  free(data);
}

/* Appends every message gss_display_status has for one status value. */
static void append_status(char *out, size_t size, OM_uint32 status, int type) {
  OM_uint32 minor, more = 0;
  gss_buffer_desc text;
  do {
    if (GSS_ERROR(gss_display_status(&minor, status, type, GSS_C_NO_OID, &more, &text))) return;
    size_t used = strlen(out);
    if (used && used + 2 < size) strcat(out, ": ");
    used = strlen(out);
    size_t n = text.length < size - used - 1 ? text.length : size - used - 1;
    memcpy(out + used, text.value, n);
    out[used + n] = 0;
    gss_release_buffer(&minor, &text);
  } while (more);
}

static napi_value throw_gss(napi_env env, const char *what, OM_uint32 major, OM_uint32 minor) {
  char message[1024];
  strncpy(message, what, sizeof message - 1);
  message[sizeof message - 1] = 0;
  append_status(message, sizeof message, major, GSS_C_GSS_CODE);
  if (minor) append_status(message, sizeof message, minor, GSS_C_MECH_CODE);
  napi_value msg, err, v;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &err);
  napi_create_uint32(env, major, &v);
  napi_set_named_property(env, err, "major", v);
  napi_create_int32(env, (int32_t)minor, &v);
  napi_set_named_property(env, err, "minor", v);
  napi_throw(env, err);
  return NULL;
}

static napi_value throw_krb5(napi_env env, krb5_context k, const char *what, krb5_error_code code) {
  const char *text = krb5_get_error_message(k, code);
  char message[1024];
  snprintf(message, sizeof message, "%s: %s", what, text);
  krb5_free_error_message(k, text);
  napi_value msg, err, v;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &err);
  napi_create_int32(env, code, &v);
  napi_set_named_property(env, err, "minor", v);
  napi_throw(env, err);
  return NULL;
}

/* A string property of an options object, or NULL when absent/undefined. Caller frees. */
static char *string_prop(napi_env env, napi_value obj, const char *name) {
  bool has = false;
  napi_value v;
  napi_valuetype t;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return NULL;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) return NULL;
  size_t len;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  char *s = malloc(len + 1);
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static Context *context_arg(napi_env env, napi_value v) {
  void *data = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  napi_get_value_external(env, v, &data);
  return (Context *)data;
}

/*
 * newContext({ target: 'cifs@host', ccache?: 'FILE:/tmp/x' }): a context handle, with the
 * initiator credential taken from `ccache` when given, else the library default (KRB5CCNAME,
 * then the client keytab of KRB5_CLIENT_KTNAME).
 */
static napi_value new_context(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *target = argc ? string_prop(env, argv[0], "target") : NULL;
  if (!target) {
    napi_throw_type_error(env, NULL, "newContext: target is required");
    return NULL;
  }
  char *ccache = string_prop(env, argv[0], "ccache");
  Context *c = calloc(1, sizeof *c);
  OM_uint32 major, minor;
  gss_buffer_desc name = { strlen(target), target };
  major = gss_import_name(&minor, &name, GSS_C_NT_HOSTBASED_SERVICE, &c->target);
  free(target);
  if (!GSS_ERROR(major) && ccache) {
    gss_key_value_element_desc element = { "ccache", ccache };
    gss_key_value_set_desc store = { 1, &element };
    gss_OID_set_desc mechs = { 1, (gss_OID)gss_mech_krb5 };
    major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE, &store, &c->cred, NULL, NULL);
  }
  free(ccache);
  if (GSS_ERROR(major)) {
    context_free(c);
    free(c);
    return throw_gss(env, "", major, minor);
  }
  napi_value handle;
  CHECK(napi_create_external(env, c, context_finalize, NULL, &handle));
  return handle;
}

/*
 * step(handle, inputToken | null): one gss_init_sec_context call with mutual authentication.
 * Returns { token: Buffer | null, complete: boolean, lifetime: seconds }.
 */
static napi_value step(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Context *c = argc ? context_arg(env, argv[0]) : NULL;
  if (!c) {
    napi_throw_type_error(env, NULL, "step: not a context handle");
    return NULL;
  }
  gss_buffer_desc input = GSS_C_EMPTY_BUFFER;
  bool is_buffer = false;
  if (argc > 1) napi_is_buffer(env, argv[1], &is_buffer);
  if (is_buffer) CHECK(napi_get_buffer_info(env, argv[1], &input.value, &input.length));
  OM_uint32 major, minor, ret_flags = 0, time_rec = 0;
  gss_buffer_desc output = GSS_C_EMPTY_BUFFER;
  OM_uint32 flags = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_INTEG_FLAG | GSS_C_CONF_FLAG;
  major = gss_init_sec_context(&minor, c->cred, &c->ctx, c->target, (gss_OID)gss_mech_krb5, flags, GSS_C_INDEFINITE,
                               GSS_C_NO_CHANNEL_BINDINGS, is_buffer ? &input : GSS_C_NO_BUFFER, NULL, &output, &ret_flags, &time_rec);
  if (GSS_ERROR(major)) {
    OM_uint32 ignored;
    gss_release_buffer(&ignored, &output);
    return throw_gss(env, "", major, minor);
  }
  napi_value result, token, complete, lifetime;
  CHECK(napi_create_object(env, &result));
  if (output.length) {
    void *copy;
    CHECK(napi_create_buffer_copy(env, output.length, output.value, &copy, &token));
  } else {
    CHECK(napi_get_null(env, &token));
  }
  gss_release_buffer(&minor, &output);
  CHECK(napi_get_boolean(env, !(major & GSS_S_CONTINUE_NEEDED), &complete));
  CHECK(napi_create_uint32(env, time_rec, &lifetime));
  napi_set_named_property(env, result, "token", token);
  napi_set_named_property(env, result, "complete", complete);
  napi_set_named_property(env, result, "lifetime", lifetime);
  return result;
}

/* The context handle of argv[0] once `argc` arguments are there, or NULL with a TypeError thrown. */
static Context *established_args(napi_env env, napi_callback_info info, size_t argc, napi_value *argv, const char *fn) {
  size_t got = argc;
  if (napi_get_cb_info(env, info, &got, argv, NULL, NULL) != napi_ok) got = 0;
  Context *c = got >= argc ? context_arg(env, argv[0]) : NULL;
  if (!c || c->ctx == GSS_C_NO_CONTEXT) {
    char message[64];
    snprintf(message, sizeof message, "%s: no established context", fn);
    napi_throw_type_error(env, NULL, message);
    return NULL;
  }
  return c;
}

/* sessionKey(handle): the context's session key (the acceptor subkey when mutual auth sent one). */
static napi_value session_key(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Context *c = established_args(env, info, 1, argv, "sessionKey");
  if (!c) return NULL;
  OM_uint32 major, minor;
  gss_buffer_set_t set = GSS_C_NO_BUFFER_SET;
  major = gss_inquire_sec_context_by_oid(&minor, c->ctx, GSS_C_INQ_SSPI_SESSION_KEY, &set);
  if (GSS_ERROR(major)) return throw_gss(env, "cannot read the session key: ", major, minor);
  if (!set || set->count < 1) {
    gss_release_buffer_set(&minor, &set);
    napi_throw_error(env, NULL, "cannot read the session key: the mechanism returned none");
    return NULL;
  }
  napi_value key;
  void *copy;
  napi_status s = napi_create_buffer_copy(env, set->elements[0].length, set->elements[0].value, &copy, &key);
  gss_release_buffer_set(&minor, &set);
  CHECK(s);
  return key;
}

/* getMic(handle, data) and verifyMic(handle, data, mic): RFC 2743 2.3.1 / 2.3.2. */
static napi_value get_mic(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Context *c = established_args(env, info, 2, argv, "getMic");
  if (!c) return NULL;
  gss_buffer_desc data, mic = GSS_C_EMPTY_BUFFER;
  CHECK(napi_get_buffer_info(env, argv[1], &data.value, &data.length));
  OM_uint32 minor, major = gss_get_mic(&minor, c->ctx, GSS_C_QOP_DEFAULT, &data, &mic);
  if (GSS_ERROR(major)) return throw_gss(env, "cannot compute a MIC: ", major, minor);
  napi_value out;
  void *copy;
  napi_status s = napi_create_buffer_copy(env, mic.length, mic.value, &copy, &out);
  gss_release_buffer(&minor, &mic);
  CHECK(s);
  return out;
}

static napi_value verify_mic(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Context *c = established_args(env, info, 3, argv, "verifyMic");
  if (!c) return NULL;
  gss_buffer_desc data, mic;
  CHECK(napi_get_buffer_info(env, argv[1], &data.value, &data.length));
  CHECK(napi_get_buffer_info(env, argv[2], &mic.value, &mic.length));
  OM_uint32 minor, major = gss_verify_mic(&minor, c->ctx, &data, &mic, NULL);
  if (GSS_ERROR(major)) return throw_gss(env, "bad MIC from the server: ", major, minor);
  return NULL;
}

/*
 * cacheInfo(name | undefined): { name, principal, tgtEnd } of a credential cache (the default
 * one, as KRB5CCNAME selects, when no name). tgtEnd is the end time (Unix seconds) of the
 * realm's TGT, 0 when the cache holds none. Throws when the cache does not exist or is empty.
 */
static napi_value cache_info(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *name = NULL;
  napi_valuetype t = napi_undefined;
  if (argc) napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    size_t len;
    napi_get_value_string_utf8(env, argv[0], NULL, 0, &len);
    name = malloc(len + 1);
    napi_get_value_string_utf8(env, argv[0], name, len + 1, &len);
  }
  krb5_context k;
  krb5_error_code code = krb5_init_context(&k);
  if (code) {
    free(name);
    napi_throw_error(env, NULL, "cannot initialise Kerberos (is krb5.conf readable?)");
    return NULL;
  }
  krb5_ccache cc = NULL;
  krb5_principal princ = NULL;
  char *princ_name = NULL, *full_name = NULL;
  krb5_timestamp tgt_end = 0;
  napi_value result = NULL;
  code = name ? krb5_cc_resolve(k, name, &cc) : krb5_cc_default(k, &cc);
  free(name);
  if (code) {
    result = throw_krb5(env, k, "cannot open the credential cache", code);
    goto done;
  }
  krb5_cc_get_full_name(k, cc, &full_name);
  code = krb5_cc_get_principal(k, cc, &princ);
  if (code) {
    result = throw_krb5(env, k, full_name ? full_name : "credential cache", code);
    goto done;
  }
  krb5_unparse_name(k, princ, &princ_name);
  krb5_cc_cursor cursor;
  if (krb5_cc_start_seq_get(k, cc, &cursor) == 0) {
    krb5_creds creds;
    while (krb5_cc_next_cred(k, cc, &cursor, &creds) == 0) {
      krb5_principal s = creds.server;
      if (s->length == 2 && s->data[0].length == 6 && memcmp(s->data[0].data, "krbtgt", 6) == 0 &&
          s->data[1].length == princ->realm.length && memcmp(s->data[1].data, princ->realm.data, princ->realm.length) == 0 &&
          creds.times.endtime > tgt_end)
        tgt_end = creds.times.endtime;
      krb5_free_cred_contents(k, &creds);
    }
    krb5_cc_end_seq_get(k, cc, &cursor);
  }
  napi_value v;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, full_name ? full_name : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, result, "name", v);
  napi_create_string_utf8(env, princ_name ? princ_name : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, result, "principal", v);
  napi_create_double(env, (double)(uint32_t)tgt_end, &v);
  napi_set_named_property(env, result, "tgtEnd", v);
done:
  if (princ_name) krb5_free_unparsed_name(k, princ_name);
  if (full_name) krb5_free_string(k, full_name);
  if (princ) krb5_free_principal(k, princ);
  if (cc) krb5_cc_close(k, cc);
  krb5_free_context(k);
  return result;
}

static void set_code(napi_env env, napi_value obj, const char *name, int32_t code) {
  napi_value v;
  napi_create_int32(env, code, &v);
  napi_set_named_property(env, obj, name, v);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
    { "newContext", NULL, new_context, NULL, NULL, NULL, napi_enumerable, NULL },
    { "step", NULL, step, NULL, NULL, NULL, napi_enumerable, NULL },
    { "sessionKey", NULL, session_key, NULL, NULL, NULL, napi_enumerable, NULL },
    { "getMic", NULL, get_mic, NULL, NULL, NULL, napi_enumerable, NULL },
    { "verifyMic", NULL, verify_mic, NULL, NULL, NULL, napi_enumerable, NULL },
    { "cacheInfo", NULL, cache_info, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  CHECK(napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns));
  /* The krb5 error codes the TypeScript side turns into words (minor status values). */
  napi_value codes;
  CHECK(napi_create_object(env, &codes));
  set_code(env, codes, "TKT_EXPIRED", KRB5KRB_AP_ERR_TKT_EXPIRED);
  set_code(env, codes, "SKEW", KRB5KRB_AP_ERR_SKEW);
  set_code(env, codes, "C_PRINCIPAL_UNKNOWN", KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN);
  set_code(env, codes, "S_PRINCIPAL_UNKNOWN", KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN);
  set_code(env, codes, "PREAUTH_FAILED", KRB5KDC_ERR_PREAUTH_FAILED);
  set_code(env, codes, "KDC_UNREACH", KRB5_KDC_UNREACH);
  set_code(env, codes, "REALM_UNKNOWN", KRB5_REALM_UNKNOWN);
  set_code(env, codes, "REALM_CANT_RESOLVE", KRB5_REALM_CANT_RESOLVE);
  set_code(env, codes, "FCC_NOFILE", KRB5_FCC_NOFILE);
  set_code(env, codes, "CC_NOTFOUND", KRB5_CC_NOTFOUND);
  set_code(env, codes, "CC_END", KRB5_CC_END);
  napi_set_named_property(env, exports, "codes", codes);
  napi_value majors;
  CHECK(napi_create_object(env, &majors));
  set_code(env, majors, "NO_CRED", (int32_t)GSS_S_NO_CRED);
  set_code(env, majors, "CREDENTIALS_EXPIRED", (int32_t)GSS_S_CREDENTIALS_EXPIRED);
  napi_set_named_property(env, exports, "majors", majors);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
