/*
 * FUSE passthrough (Linux 6.9+): registers an open backing file with the FUSE connection, so that
 * the kernel reads and writes it directly for the view's files instead of sending each READ and
 * WRITE through the view's process. Two ioctls on /dev/fuse, which Node cannot issue itself. The
 * kernel allows them to CAP_SYS_ADMIN only.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <node_api.h>
#include "addon.h"

/* include/uapi/linux/fuse.h (protocol 7.40); older system headers lack them. */
struct fuse_backing_map {
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
#define FUSE_DEV_IOC_MAGIC 229
#define FUSE_DEV_IOC_BACKING_OPEN _IOW(FUSE_DEV_IOC_MAGIC, 1, struct fuse_backing_map)
#define FUSE_DEV_IOC_BACKING_CLOSE _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t)

/* The two integer arguments of a call; false (a TypeError thrown) when they are not that. */
static int two_ints(napi_env env, napi_callback_info info, const char *usage, int32_t *a, int32_t *b) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_int32(env, argv[0], a) != napi_ok || napi_get_value_int32(env, argv[1], b) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return 1;
}

/* Returns the ioctl's result (a backing id, or 0), or minus the errno. */
static napi_value ioctl_result(napi_env env, int rc) {
  napi_value out;
  napi_create_int32(env, rc < 0 ? -errno : rc, &out);
  return out;
}

/* backingOpen(fuseFd, fd): registers fd; returns its backing id, or -errno. */
napi_value backing_open(napi_env env, napi_callback_info info) {
  int32_t fuse_fd, fd;
  if (!two_ints(env, info, "backingOpen(fuseFd, fd): two integers", &fuse_fd, &fd)) return NULL;
  struct fuse_backing_map map;
  memset(&map, 0, sizeof map);
  map.fd = fd;
  return ioctl_result(env, ioctl(fuse_fd, FUSE_DEV_IOC_BACKING_OPEN, &map));
}

/* backingClose(fuseFd, id): forgets a backing id; returns 0, or -errno. */
napi_value backing_close(napi_env env, napi_callback_info info) {
  int32_t fuse_fd, id;
  if (!two_ints(env, info, "backingClose(fuseFd, id): two integers", &fuse_fd, &id)) return NULL;
  uint32_t backing_id = (uint32_t)id;
  return ioctl_result(env, ioctl(fuse_fd, FUSE_DEV_IOC_BACKING_CLOSE, &backing_id));
}
