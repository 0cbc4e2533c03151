/* Stats every path of a no-op record (src/plan/noop-record.ts) on the other core while batch
 * is still loading its code: a direct no-op's one unavoidable piece of work is a stat of every
 * file it depends on (12,001 for 1,000 steps of 10 inputs), ~50 ms on Node's main thread here
 * (each statSync builds an fs.Stats with four Dates), ~21 ms in C, and a start of batch leaves
 * the second core idle for the ~60 ms its modules take to load.
 *
 * Built by scripts/build-forkserver.mjs into dist/stat-many; started by stat-prefetch.ts.
 *
 *   stat-many ROOT RECORD
 *
 * RECORD's layout (little-endian; written by noop-record.ts, which says what it means):
 *   0  "BFNOOPR1"   8  u32 COUNT   12 u32 PATHS_BYTES   16 u32 META_BYTES   20 u32 0
 *   24 16 bytes: the record's checksum (hex)   40 PATHS_BYTES: COUNT paths, each NUL-ended,
 *   relative to ROOT; zero bytes to a multiple of 8; COUNT x 5 doubles, the stats recorded;
 *   the rest is not read here.
 * Takes per path the record's own 5 doubles of a stat: mode (0: nothing there; -1: the stat
 * failed otherwise), size, mtimeMs, ctimeMs, inode, with the times as fs.Stats computes them
 * (sec * 1e3 + nsec / 1e6, in doubles; built with -ffp-contract=off so no fused multiply-add
 * rounds them otherwise), and compares them with the recorded ones (memcmp), stopping at the
 * first path that differs. Writes to stdout 17 bytes: the 16 checksum bytes (naming the record
 * it read), then 1 when every number matched, 0 otherwise. (It wrote all the numbers once,
 * ~480 KB for 1,000 steps, which batch read from the pipe and compared: ~4 ms of its CPU.)
 * It follows links, as fs.statSync does. Anything malformed: exit 2 with nothing written
 * (batch then stats the files itself). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER 40
#define PER_PATH 5

static uint32_t u32le(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned char *read_all(const char *file, size_t *len) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < HEADER || st.st_size > (off_t)1 << 30) {
    close(fd);
    return NULL;
  }
  size_t n = (size_t)st.st_size, got = 0;
  unsigned char *buf = malloc(n);
  while (buf && got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r <= 0) {
      free(buf);
      buf = NULL;
      break;
    }
    got += (size_t)r;
  }
  close(fd);
  *len = n;
  return buf;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  size_t len = 0;
  unsigned char *rec = read_all(argv[2], &len);
  if (!rec || memcmp(rec, "BFNOOPR1", 8) != 0) return 2;
  uint32_t count = u32le(rec + 8), paths_bytes = u32le(rec + 12);
  if ((size_t)HEADER + paths_bytes > len || count > paths_bytes) return 2;
  size_t pad = (8 - ((HEADER + (size_t)paths_bytes) % 8)) % 8;
  size_t nums_at = HEADER + (size_t)paths_bytes + pad;
  /* Divided rather than multiplied: count * 40 can wrap where size_t is 32 bits. */
  if (nums_at > len || count > (len - nums_at) / (PER_PATH * sizeof(double))) return 2;
  int root = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return 2;
  unsigned char out[17];
  memcpy(out, rec + 24, 16);
  out[16] = 1;
  const char *p = (const char *)rec + HEADER, *end = p + paths_bytes;
  for (uint32_t i = 0; i < count; i++) {
    const char *nul = memchr(p, 0, (size_t)(end - p));
    if (!nul) return 2;
    struct stat st;
    double v[PER_PATH];
    if (fstatat(root, p, &st, 0) == 0) {
      v[0] = (double)st.st_mode;
      v[1] = (double)st.st_size;
      v[2] = (double)st.st_mtim.tv_sec * 1e3 + (double)st.st_mtim.tv_nsec / 1e6;
      v[3] = (double)st.st_ctim.tv_sec * 1e3 + (double)st.st_ctim.tv_nsec / 1e6;
      v[4] = (double)st.st_ino;
    } else {
      memset(v, 0, sizeof v);
      if (errno != ENOENT && errno != ENOTDIR) v[0] = -1;
    }
    /* The record's numbers need not be aligned in the buffer: compared as bytes. */
    if (memcmp(v, rec + nums_at + (size_t)i * sizeof v, sizeof v) != 0) {
      out[16] = 0;
      break;
    }
    p = nul + 1;
  }
  for (size_t off = 0; off < sizeof out;) {
    ssize_t w = write(1, out + off, sizeof out - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return 3;
    off += (size_t)w;
  }
  return 0;
}
