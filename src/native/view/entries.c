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
 * of opening `dir` (then nothing is written). Names outside `names`, or unended, get EINVAL.
 */
napi_value stat_entries(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *dir_data, *names_data, *attrs_data;
  size_t dir_length, names_length, attrs_length, starts_length, errors_length;
  uint32_t *starts, *errors;
  uint32_t count;
  if (argc < 6 || !buffer_arg(env, argv[0], &dir_data, &dir_length) || !buffer_arg(env, argv[1], &names_data, &names_length)
      || !uint32_array_arg(env, argv[2], &starts, &starts_length) || napi_get_value_uint32(env, argv[3], &count) != napi_ok
      || !buffer_arg(env, argv[4], &attrs_data, &attrs_length) || !uint32_array_arg(env, argv[5], &errors, &errors_length)
      || count > starts_length || count > errors_length || (size_t)count * sizeof(struct fuse_attr_wire) > attrs_length
      || dir_length == 0 || dir_length >= 4096) {
    napi_throw_type_error(env, NULL, "statEntries(dir, names, starts, count, attrs, errors): buffers of the right sizes");
    return NULL;
  }
  char path[4096];
  memcpy(path, dir_data, dir_length);
  path[dir_length] = '\0';
  napi_value result;
  int dirfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) {
    napi_create_int32(env, -errno, &result);
    return result;
  }
  const char *names = names_data;
  struct fuse_attr_wire *attrs = attrs_data;
  for (uint32_t k = 0; k < count; k++) {
    uint32_t at = starts[k];
    if (at >= names_length || memchr(names + at, '\0', names_length - at) == NULL) {
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
  napi_create_int32(env, 0, &result);
  return result;
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

static const char *sorting_names;

static int by_name(const void *a, const void *b) {
  return strcmp(sorting_names + *(const uint32_t *)a, sorting_names + *(const uint32_t *)b);
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
  void *dir_data;
  size_t dir_length;
  if (argc < 1 || !buffer_arg(env, argv[0], &dir_data, &dir_length) || dir_length == 0 || dir_length >= 4096) {
    napi_throw_type_error(env, NULL, "listFolder(dir): a path as a Buffer");
    return NULL;
  }
  char path[4096];
  memcpy(path, dir_data, dir_length);
  path[dir_length] = '\0';
  napi_value result;
  DIR *dir = opendir(path);
  if (!dir) {
    napi_create_int32(env, -errno, &result);
    return result;
  }
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
  if (error == 0) {
    uint32_t *order = malloc((l.count ? l.count : 1) * sizeof *order);
    char *names = malloc(l.length ? l.length : 1);
    uint8_t *types = malloc(l.count ? l.count : 1);
    if (order && names && types) {
      memcpy(order, l.starts, l.count * sizeof *order);
      sorting_names = l.names;
      qsort(order, l.count, sizeof *order, by_name);
      /* The type of each start, to carry types through the sort. */
      size_t at = 0;
      for (size_t k = 0; k < l.count; k++) {
        const char *name = l.names + order[k];
        size_t n = strlen(name) + 1;
        memcpy(names + at, name, n);
        at += n;
      }
      /* starts are increasing: the type of a start is found by binary search. */
      for (size_t k = 0; k < l.count; k++) {
        size_t lo = 0, hi = l.count;
        while (hi - lo > 1) {
          size_t mid = (lo + hi) / 2;
          if (l.starts[mid] <= order[k]) lo = mid;
          else hi = mid;
        }
        types[k] = l.types[lo];
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
  if (error != 0) napi_create_int32(env, -error, &result);
  return result;
}
