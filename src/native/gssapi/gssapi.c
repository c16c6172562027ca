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
 * Whatever may talk to the KDC or to a credential cache daemon (KCM) runs on a thread of its own
 * and returns a Promise: `step` (gss_init_sec_context, which fetches service tickets and, with a
 * client keytab, the TGT) and `cacheInfo`. A KDC that does not answer keeps libkrb5 waiting for
 * its whole timeout (about 30 s with the defaults); on the main thread that would freeze the
 * event loop, and every other watch of the daemon with it. A thread per call rather than libuv's
 * pool of four: several logins waiting on a dead KDC must not starve file system work and DNS.
 * The local operations on an established context (session key, MICs) stay synchronous.
 *
 * Errors are Error objects (thrown, or the Promise's rejection) with `major`, `minor` (the krb5
 * error code, signed) and a message from gss_display_status.
 */
#include <node_api.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <gssapi/gssapi_ext.h>
#include <krb5/krb5.h>
#include <profile.h>
#include <pthread.h>
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
  /* The cache to acquire the credential from (on the first step, off the main thread), or NULL. */
  char *ccache;
  /*
   * Seconds the service ticket must still be valid (gss_init_sec_context's time_req), or
   * GSS_C_INDEFINITE. A cached ticket ending sooner is not reused: libkrb5 asks the KDC for a new
   * one, which it gets only when the cache's TGT lasts longer (a renewal ahead of the end).
   */
  OM_uint32 time_req;
  /* A step is running on its thread: the context is not to be touched until it settles. */
  bool busy;
} Context;

static void context_free(Context *c) {
  OM_uint32 minor;
  free(c->ccache);
  c->ccache = NULL;
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

/* "what" followed by the GSS and mechanism texts of a failure. */
static void format_gss(char *out, size_t size, const char *what, OM_uint32 major, OM_uint32 minor) {
  snprintf(out, size, "%s", what);
  append_status(out, size, major, GSS_C_GSS_CODE);
  if (minor) append_status(out, size, minor, GSS_C_MECH_CODE);
}

/* An Error with `major` (when has_major) and `minor` properties. */
static napi_value make_error(napi_env env, const char *message, bool has_major, OM_uint32 major, int32_t minor) {
  napi_value msg, err, v;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &err);
  if (has_major) {
    napi_create_uint32(env, major, &v);
    napi_set_named_property(env, err, "major", v);
  }
  napi_create_int32(env, minor, &v);
  napi_set_named_property(env, err, "minor", v);
  return err;
}

static napi_value throw_gss(napi_env env, const char *what, OM_uint32 major, OM_uint32 minor) {
  char message[1024];
  format_gss(message, sizeof message, what, major, minor);
  napi_throw(env, make_error(env, message, true, major, (int32_t)minor));
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
 * A call that runs on its own thread and settles a Promise. `run` does the blocking work on the
 * thread (no Node-API there); `finish` turns the outcome into the value or the Error on the main
 * thread; `release` frees what the job owns.
 */
typedef struct Job Job;
struct Job {
  napi_deferred deferred;
  napi_threadsafe_function done;
  napi_ref keep; /* the context's handle, kept from the garbage collector while the thread uses it */
  Context *context;
  void (*run)(Job *);
  bool (*finish)(napi_env, Job *, napi_value *);
  void (*release)(Job *);
  /* step */
  void *input;
  size_t input_length;
  gss_buffer_desc output;
  OM_uint32 major, minor, time_rec;
  /* cacheInfo */
  char *name, *full_name, *principal;
  krb5_timestamp tgt_end;
  krb5_error_code code;
  char error[1024];
};

static void job_free(Job *job) {
  if (job->release) job->release(job);
  free(job->input);
  free(job->name);
  free(job->full_name);
  free(job->principal);
  free(job);
}

/* Main thread: settle the Promise. env is NULL when Node is tearing the environment down. */
static void job_settle(napi_env env, napi_value unused, void *hint, void *data) {
  Job *job = data;
  if (env) {
    napi_value value = NULL;
    bool ok = job->finish(env, job, &value);
    if (!value) napi_get_undefined(env, &value);
    if (job->context) job->context->busy = false;
    if (job->keep) napi_delete_reference(env, job->keep);
    if (ok) napi_resolve_deferred(env, job->deferred, value);
    else napi_reject_deferred(env, job->deferred, value);
  }
  job_free(job);
}

static void *job_thread(void *arg) {
  Job *job = arg;
  napi_threadsafe_function done = job->done;
  job->run(job);
  /* Fails only while Node shuts down; the job then stays unsettled, as the process ends. */
  napi_call_threadsafe_function(done, job, napi_tsfn_nonblocking);
  napi_release_threadsafe_function(done, napi_tsfn_release);
  return NULL;
}

/*
 * Start `job` on a thread of its own; returns its Promise. `handle`, when given, is the context's
 * external, kept alive until the job settles. The pending thread-safe function keeps the event
 * loop alive meanwhile: the Promise is always settled before the process leaves on its own.
 */
static napi_value job_start(napi_env env, Job *job, napi_value handle, const char *name) {
  napi_value promise, resource;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource) != napi_ok ||
      napi_create_threadsafe_function(env, NULL, NULL, resource, 0, 1, NULL, NULL, NULL, job_settle, &job->done) != napi_ok) {
    job_free(job);
    napi_throw_error(env, NULL, "gssapi addon: cannot start a Kerberos call");
    return NULL;
  }
  if (handle) napi_create_reference(env, handle, 1, &job->keep);
  if (job->context) job->context->busy = true;
  pthread_attr_t attr;
  pthread_t thread;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int failed = pthread_create(&thread, &attr, job_thread, job);
  pthread_attr_destroy(&attr);
  if (failed) {
    snprintf(job->error, sizeof job->error, "gssapi addon: cannot start a thread for the Kerberos call");
    job->major = GSS_S_FAILURE;
    job->minor = 0;
    /* Settle it now, as a failed call: the thread-safe function is ours to release. */
    napi_value err = make_error(env, job->error, true, job->major, 0);
    if (job->context) job->context->busy = false;
    if (job->keep) napi_delete_reference(env, job->keep);
    napi_reject_deferred(env, job->deferred, err);
    napi_release_threadsafe_function(job->done, napi_tsfn_abort);
    job_free(job);
  }
  return promise;
}

/*
 * newContext({ target: 'cifs@host', ccache?: 'FILE:/tmp/x', minLifetime?: seconds }): a context
 * handle (minLifetime: the time_req of Context above). The initiator
 * credential comes from `ccache` when given (acquired by the first step), else the library
 * default (KRB5CCNAME, then the client keytab of KRB5_CLIENT_KTNAME). Local work only.
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
  Context *c = calloc(1, sizeof *c);
  c->ccache = string_prop(env, argv[0], "ccache");
  c->time_req = GSS_C_INDEFINITE;
  bool has_lifetime = false;
  napi_value v;
  napi_valuetype t;
  if (napi_has_named_property(env, argv[0], "minLifetime", &has_lifetime) == napi_ok && has_lifetime &&
      napi_get_named_property(env, argv[0], "minLifetime", &v) == napi_ok && napi_typeof(env, v, &t) == napi_ok && t == napi_number) {
    uint32_t seconds = 0;
    napi_get_value_uint32(env, v, &seconds);
    if (seconds) c->time_req = seconds;
  }
  OM_uint32 major, minor;
  gss_buffer_desc name = { strlen(target), target };
  major = gss_import_name(&minor, &name, GSS_C_NT_HOSTBASED_SERVICE, &c->target);
  free(target);
  if (GSS_ERROR(major)) {
    context_free(c);
    free(c);
    return throw_gss(env, "", major, minor);
  }
  napi_value handle;
  CHECK(napi_create_external(env, c, context_finalize, NULL, &handle));
  return handle;
}

/* Thread: the credential from the given cache (first step only), then one gss_init_sec_context. */
static void step_run(Job *job) {
  Context *c = job->context;
  OM_uint32 minor = 0, major = GSS_S_COMPLETE;
  if (c->ccache && c->cred == GSS_C_NO_CREDENTIAL) {
    /*
     * A named cache (a mount user's, --use-krb5-ccache, krb5-ccache =) is used as it is. Without
     * the empty client keytab, libkrb5 would get initial credentials for the keytab's principal
     * (KRB5_CLIENT_KTNAME, a service's) when that cache holds none, log on as that principal and
     * write them into the named cache, creating another user's cache as root.
     */
    gss_key_value_element_desc elements[2] = { { "ccache", c->ccache }, { "client_keytab", "FILE:/dev/null" } };
    gss_key_value_set_desc store = { 2, elements };
    gss_OID_set_desc mechs = { 1, (gss_OID)gss_mech_krb5 };
    major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE, &store, &c->cred, NULL, NULL);
  }
  if (!GSS_ERROR(major)) {
    gss_buffer_desc input = { job->input_length, job->input };
    OM_uint32 ret_flags = 0;
    OM_uint32 flags = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_INTEG_FLAG | GSS_C_CONF_FLAG;
    major = gss_init_sec_context(&minor, c->cred, &c->ctx, c->target, (gss_OID)gss_mech_krb5, flags, c->time_req,
                                 GSS_C_NO_CHANNEL_BINDINGS, job->input ? &input : GSS_C_NO_BUFFER, NULL, &job->output, &ret_flags, &job->time_rec);
  }
  job->major = major;
  job->minor = minor;
  if (GSS_ERROR(major)) format_gss(job->error, sizeof job->error, "", major, minor);
}

static bool step_finish(napi_env env, Job *job, napi_value *out) {
  if (GSS_ERROR(job->major)) {
    *out = make_error(env, job->error, true, job->major, (int32_t)job->minor);
    return false;
  }
  napi_value token, complete, lifetime;
  napi_create_object(env, out);
  if (job->output.length) {
    void *copy;
    napi_create_buffer_copy(env, job->output.length, job->output.value, &copy, &token);
  } else {
    napi_get_null(env, &token);
  }
  napi_get_boolean(env, !(job->major & GSS_S_CONTINUE_NEEDED), &complete);
  napi_create_uint32(env, job->time_rec, &lifetime);
  napi_set_named_property(env, *out, "token", token);
  napi_set_named_property(env, *out, "complete", complete);
  napi_set_named_property(env, *out, "lifetime", lifetime);
  return true;
}

static void step_release(Job *job) {
  OM_uint32 minor;
  gss_release_buffer(&minor, &job->output);
}

/*
 * step(handle, inputToken | null): a Promise of one gss_init_sec_context call with mutual
 * authentication, made on a thread of its own (it may wait on the KDC):
 * { token: Buffer | null, complete: boolean, lifetime: seconds }.
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
  if (c->busy) {
    napi_throw_type_error(env, NULL, "step: the context is busy with another step");
    return NULL;
  }
  Job *job = calloc(1, sizeof *job);
  job->context = c;
  job->run = step_run;
  job->finish = step_finish;
  job->release = step_release;
  bool is_buffer = false;
  if (argc > 1) napi_is_buffer(env, argv[1], &is_buffer);
  if (is_buffer) {
    void *data;
    size_t length;
    CHECK(napi_get_buffer_info(env, argv[1], &data, &length));
    /* The thread gets its own copy: the Buffer may be collected or changed meanwhile. */
    job->input = malloc(length ? length : 1);
    memcpy(job->input, data, length);
    job->input_length = length;
  }
  return job_start(env, job, argv[0], "gssapi.step");
}

/* The context handle of argv[0] once `argc` arguments are there, or NULL with a TypeError thrown. */
static Context *established_args(napi_env env, napi_callback_info info, size_t argc, napi_value *argv, const char *fn) {
  size_t got = argc;
  if (napi_get_cb_info(env, info, &got, argv, NULL, NULL) != napi_ok) got = 0;
  Context *c = got >= argc ? context_arg(env, argv[0]) : NULL;
  if (!c || c->busy || c->ctx == GSS_C_NO_CONTEXT) {
    char message[64];
    snprintf(message, sizeof message, "%s: no established context%s", fn, c && c->busy ? " (a step is running)" : "");
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

/* Thread: open the cache, read its principal and the end of the realm's TGT. */
static void cache_info_run(Job *job) {
  krb5_context k;
  job->code = krb5_init_context(&k);
  if (job->code) {
    snprintf(job->error, sizeof job->error, "cannot initialise Kerberos (is krb5.conf readable?)");
    return;
  }
  krb5_ccache cc = NULL;
  krb5_principal princ = NULL;
  char *text = NULL;
  const char *what = "cannot open the credential cache";
  job->code = job->name ? krb5_cc_resolve(k, job->name, &cc) : krb5_cc_default(k, &cc);
  if (!job->code) {
    char *full_name = NULL;
    if (krb5_cc_get_full_name(k, cc, &full_name) == 0) {
      job->full_name = strdup(full_name);
      krb5_free_string(k, full_name);
      what = job->full_name;
    }
    job->code = krb5_cc_get_principal(k, cc, &princ);
  }
  if (job->code) {
    const char *message = krb5_get_error_message(k, job->code);
    snprintf(job->error, sizeof job->error, "%s: %s", what, message);
    krb5_free_error_message(k, message);
    goto done;
  }
  if (krb5_unparse_name(k, princ, &text) == 0) {
    job->principal = strdup(text);
    krb5_free_unparsed_name(k, text);
  }
  krb5_cc_cursor cursor;
  if (krb5_cc_start_seq_get(k, cc, &cursor) == 0) {
    krb5_creds creds;
    while (krb5_cc_next_cred(k, cc, &cursor, &creds) == 0) {
      krb5_principal s = creds.server;
      if (s->length == 2 && s->data[0].length == 6 && memcmp(s->data[0].data, "krbtgt", 6) == 0 &&
          s->data[1].length == princ->realm.length && memcmp(s->data[1].data, princ->realm.data, princ->realm.length) == 0 &&
          creds.times.endtime > job->tgt_end)
        job->tgt_end = creds.times.endtime;
      krb5_free_cred_contents(k, &creds);
    }
    krb5_cc_end_seq_get(k, cc, &cursor);
  }
done:
  if (princ) krb5_free_principal(k, princ);
  if (cc) krb5_cc_close(k, cc);
  krb5_free_context(k);
}

static bool cache_info_finish(napi_env env, Job *job, napi_value *out) {
  if (job->code) {
    *out = make_error(env, job->error, false, 0, job->code);
    return false;
  }
  napi_value v;
  napi_create_object(env, out);
  napi_create_string_utf8(env, job->full_name ? job->full_name : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, *out, "name", v);
  napi_create_string_utf8(env, job->principal ? job->principal : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, *out, "principal", v);
  napi_create_double(env, (double)(uint32_t)job->tgt_end, &v);
  napi_set_named_property(env, *out, "tgtEnd", v);
  return true;
}

/*
 * cacheInfo(name | undefined): a Promise of { name, principal, tgtEnd } of a credential cache
 * (the default one, as KRB5CCNAME selects, when no name), read on a thread of its own (a KCM
 * cache is a daemon's). tgtEnd is the end time (Unix seconds) of the realm's TGT, 0 when the
 * cache holds none. Rejects when the cache does not exist or is empty.
 */
static napi_value cache_info(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Job *job = calloc(1, sizeof *job);
  job->run = cache_info_run;
  job->finish = cache_info_finish;
  napi_valuetype t = napi_undefined;
  if (argc) napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    size_t len;
    napi_get_value_string_utf8(env, argv[0], NULL, 0, &len);
    job->name = malloc(len + 1);
    napi_get_value_string_utf8(env, argv[0], job->name, len + 1, &len);
  }
  return job_start(env, job, NULL, "gssapi.cacheInfo");
}

/*
 * defaultCcacheTemplate(): krb5.conf's default_ccache_name as written, its %{uid} not expanded
 * (e.g. "KEYRING:persistent:%{uid}"), or null when krb5.conf sets none. Local: reads the profile
 * the library already loaded. The daemon expands it for another user's cruid.
 */
static napi_value default_ccache_template(napi_env env, napi_callback_info info) {
  napi_value result;
  napi_get_null(env, &result);
  krb5_context k;
  if (krb5_init_context(&k)) return result;
  profile_t profile = NULL;
  char *value = NULL;
  if (krb5_get_profile(k, &profile) == 0) {
    if (profile_get_string(profile, "libdefaults", "default_ccache_name", NULL, NULL, &value) == 0 && value) {
      napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &result);
      profile_release_string(value);
    }
    profile_release(profile);
  }
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
    { "defaultCcacheTemplate", NULL, default_ccache_template, NULL, NULL, NULL, napi_enumerable, NULL },
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
