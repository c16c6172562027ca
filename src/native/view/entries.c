/*
 * statEntries: the attributes of many names of one folder in one call, written straight in the
 * layout of the FUSE protocol's struct fuse_attr (include/uapi/linux/fuse.h), for READDIRPLUS.
 * In JavaScript each lstat costs 5-9 µs and a BigIntStats object with a score of BigInts
 * (whose garbage the backing thread then collects); here it is one fstatat(2) relative to the
 * folder, which the kernel does not walk again for each name.
 */
#define _GNU_SOURCE /* O_PATH */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <node_api.h>
#include "addon.h"

/* struct fuse_attr, 88 bytes, host order (the FUSE protocol's). */
struct fuse_attr_wire {
  uint64_t ino, size, blocks, atime, mtime, ctime;
  uint32_t atimensec, mtimensec, ctimensec, mode, nlink, uid, gid, rdev, blksize, flags;
};
_Static_assert(sizeof(struct fuse_attr_wire) == 88, "struct fuse_attr is 88 bytes");

static void fill_attr(struct fuse_attr_wire *a, const struct stat *st) {
  memset(a, 0, sizeof *a);
  a->ino = (uint64_t)st->st_ino;
  a->size = (uint64_t)st->st_size;
  a->blocks = (uint64_t)st->st_blocks;
  a->atime = (uint64_t)st->st_atim.tv_sec;
  a->mtime = (uint64_t)st->st_mtim.tv_sec;
  a->ctime = (uint64_t)st->st_ctim.tv_sec;
  a->atimensec = (uint32_t)st->st_atim.tv_nsec;
  a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
  a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
  a->mode = st->st_mode;
  a->nlink = (uint32_t)st->st_nlink;
  a->uid = st->st_uid;
  a->gid = st->st_gid;
  a->rdev = (uint32_t)st->st_rdev;
  a->blksize = (uint32_t)st->st_blksize;
}

static int buffer_arg(napi_env env, napi_value v, void **data, size_t *length) {
  return napi_get_buffer_info(env, v, data, length) == napi_ok;
}

/* A folder's path given as a Buffer, copied NUL-ended into `path`: false when empty, too long for
 * PATH_BYTES or holding a NUL (which would name another folder). */
#define PATH_BYTES 4096
static int path_arg(napi_env env, napi_value v, char path[PATH_BYTES]) {
  void *data;
  size_t length;
  if (!buffer_arg(env, v, &data, &length) || length == 0 || length >= PATH_BYTES || memchr(data, '\0', length)) return 0;
  memcpy(path, data, length);
  path[length] = '\0';
  return 1;
}

static napi_value minus_errno(napi_env env, int error) {
  napi_value result;
  napi_create_int32(env, -error, &result);
  return result;
}

static int uint32_array_arg(napi_env env, napi_value v, uint32_t **data, size_t *length) {
  napi_typedarray_type type;
  void *base;
  if (napi_get_typedarray_info(env, v, &type, length, &base, NULL, NULL) != napi_ok || type != napi_uint32_array) return 0;
  *data = base;
  return 1;
}

/*
 * statEntries(dir, names, starts, count, attrs, errors): for k < count, the name that starts at
 * byte starts[k] of `names` (ended by a NUL) in folder `dir` (a path, no NUL) is lstat'ed; its
 * fuse_attr goes to attrs[88k..], and errors[k] is 0 or the errno. Returns 0, or minus the errno
 * of opening `dir` (then nothing is written). Names outside `names`, unended, or holding a '/'
 * get EINVAL.
 */
napi_value stat_entries(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[PATH_BYTES];
  void *names_data, *attrs_data;
  size_t names_length, attrs_length, starts_length, errors_length;
  uint32_t *starts, *errors;
  uint32_t count;
  if (argc < 6 || !path_arg(env, argv[0], path) || !buffer_arg(env, argv[1], &names_data, &names_length)
      || !uint32_array_arg(env, argv[2], &starts, &starts_length) || napi_get_value_uint32(env, argv[3], &count) != napi_ok
      || !buffer_arg(env, argv[4], &attrs_data, &attrs_length) || !uint32_array_arg(env, argv[5], &errors, &errors_length)
      || count > starts_length || count > errors_length || (size_t)count * sizeof(struct fuse_attr_wire) > attrs_length) {
    napi_throw_type_error(env, NULL, "statEntries(dir, names, starts, count, attrs, errors): buffers of the right sizes");
    return NULL;
  }
  int dirfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return minus_errno(env, errno);
  const char *names = names_data;
  struct fuse_attr_wire *attrs = attrs_data;
  for (uint32_t k = 0; k < count; k++) {
    uint32_t at = starts[k];
    const char *end = at < names_length ? memchr(names + at, '\0', names_length - at) : NULL;
    /* One name of the folder: a '/' would reach past it (a listing never holds one). */
    if (end == NULL || memchr(names + at, '/', (size_t)(end - (names + at))) != NULL) {
      errors[k] = EINVAL;
      continue;
    }
    struct stat st;
    if (fstatat(dirfd, names + at, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      errors[k] = (uint32_t)errno;
      continue;
    }
    errors[k] = 0;
    fill_attr(&attrs[k], &st);
  }
  close(dirfd);
  return minus_errno(env, 0);
}

/* The names read so far: NUL-ended, one after the other, with each one's start and type. */
struct listing {
  char *names;
  size_t length, room;
  uint32_t *starts;
  uint8_t *types;
  size_t count, slots;
};

static int listing_add(struct listing *l, const char *name, uint8_t type) {
  size_t n = strlen(name) + 1;
  if (l->length + n > l->room) {
    size_t room = l->room ? l->room * 2 : 65536;
    while (room < l->length + n) room *= 2;
    char *names = realloc(l->names, room);
    if (!names) return 0;
    l->names = names;
    l->room = room;
  }
  if (l->count == l->slots) {
    size_t slots = l->slots ? l->slots * 2 : 1024;
    uint32_t *starts = realloc(l->starts, slots * sizeof *starts);
    if (!starts) return 0;
    l->starts = starts;
    uint8_t *types = realloc(l->types, slots);
    if (!types) return 0;
    l->types = types;
    l->slots = slots;
  }
  memcpy(l->names + l->length, name, n);
  l->starts[l->count] = (uint32_t)l->length;
  l->types[l->count] = type;
  l->length += n;
  l->count++;
  return 1;
}

/* qsort_r's order of two names by index (k into l->starts), by their bytes. The listing is the
 * comparator's argument, not a global: backing threads list folders at the same time. */
static int by_name(const void *a, const void *b, void *listing) {
  const struct listing *l = listing;
  return strcmp(l->names + l->starts[*(const uint32_t *)a], l->names + l->starts[*(const uint32_t *)b]);
}

/*
 * listFolder(dir): the names of folder `dir` (a path, no NUL) but '.' and '..', sorted by their
 * bytes as libuv's scandir sorts them (what fs.readdirSync gave before), as [names, types]:
 * `names` the names each ended by a NUL, `types` one DT_ value each (DT_UNKNOWN from the file
 * system is resolved with fstatat, as Node does). Minus the errno when it cannot be read.
 */
napi_value list_folder(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[PATH_BYTES];
  if (argc < 1 || !path_arg(env, argv[0], path)) {
    napi_throw_type_error(env, NULL, "listFolder(dir): a path as a Buffer");
    return NULL;
  }
  DIR *dir = opendir(path);
  if (!dir) return minus_errno(env, errno);
  struct listing l = {0};
  int error = 0;
  for (;;) {
    errno = 0;
    struct dirent *d = readdir(dir);
    if (!d) {
      error = errno;
      break;
    }
    if (d->d_name[0] == '.' && (d->d_name[1] == '\0' || (d->d_name[1] == '.' && d->d_name[2] == '\0'))) continue;
    uint8_t type = d->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) type = (uint8_t)IFTODT(st.st_mode);
    }
    if (!listing_add(&l, d->d_name, type)) {
      error = ENOMEM;
      break;
    }
  }
  closedir(dir);
  napi_value result = NULL;
  if (error == 0) {
    uint32_t *order = malloc((l.count ? l.count : 1) * sizeof *order);
    char *names = malloc(l.length ? l.length : 1);
    uint8_t *types = malloc(l.count ? l.count : 1);
    if (order && names && types) {
      for (size_t k = 0; k < l.count; k++) order[k] = (uint32_t)k;
      qsort_r(order, l.count, sizeof *order, by_name, &l);
      size_t at = 0;
      for (size_t k = 0; k < l.count; k++) {
        const char *name = l.names + l.starts[order[k]];
        size_t n = strlen(name) + 1;
        memcpy(names + at, name, n);
        at += n;
        types[k] = l.types[order[k]];
      }
      napi_value names_out, types_out;
      napi_create_buffer_copy(env, l.length, names, NULL, &names_out);
      napi_create_buffer_copy(env, l.count, types, NULL, &types_out);
      napi_create_array_with_length(env, 2, &result);
      napi_set_element(env, result, 0, names_out);
      napi_set_element(env, result, 1, types_out);
    } else {
      error = ENOMEM;
    }
    free(order);
    free(names);
    free(types);
  }
  free(l.names);
  free(l.starts);
  free(l.types);
  return error != 0 ? minus_errno(env, error) : result;
}
