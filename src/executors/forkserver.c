/* batch's native spawn helper (Linux): a small long-lived process that starts command steps
 * for batch, as src/executors/spawn-helper.ts does, but with posix_spawn. glibc implements it
 * with clone(CLONE_VM|CLONE_VFORK): no copy of page tables, so a start costs the same however
 * large the starting process is (the Node helper's fork copied a ~40 MB process per step).
 *
 * Built by scripts/build-forkserver.mjs into dist/forkserver; spoken to by spawner.ts.
 *
 * Requests on stdin, each a frame: a 4-byte little-endian length N (1..MAX_FRAME), then N
 * bytes: a type byte and NUL-terminated fields, nothing after the last NUL.
 *   'E' COUNT  then COUNT entries "K=V": the environment of every later run
 *   'R' ID FILE CWD LOG HEADER ARGC  then ARGC args (argv[0] is FILE), then XC  then XC
 *       entries "K=V" set over the environment for this step only
 * Replies on stdout, one line each:
 *   ready 1                                   (protocol version; nothing was started before)
 *   start ID PID
 *   end ID CODE SIGNO LEFT CPU_US PEAK_KB     (CODE -1 when killed by SIGNO; LEFT 1 when the
 *                                              group outlived the command and was killed;
 *                                              CPU of the command and all it waited for;
 *                                              peak: see tree_rss_kb)
 *   fail ID MESSAGE                           (not started: log folder or program trouble;
 *                                              or, after `start`, its output could not be
 *                                              written to the log)
 * A step's stdout and stderr go to one pipe that this server reads; the log file (HEADER
 * first) is created when the first byte arrives, so a step that prints nothing costs no file
 * (a file creation is the dearest part of a short step's start on ext4). Its folder is
 * checked, and created if missing, before the step starts. The pipe is drained before `end`
 * is sent: the log is complete when batch hears of the end.
 * A malformed request is a fatal error: a message on stderr, every step's group killed, exit 2.
 * When stdin closes (batch exited or was killed, even by kill -9), or on SIGTERM, SIGINT or
 * SIGHUP, every running step's process group is killed and the server exits: no step
 * outlives batch. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROTOCOL 1
/* Largest request: an environment of several MB is already absurd. */
#define MAX_FRAME (64u << 20)
/* Largest count field (arguments, variables): bounded again by the frame's bytes. */
#define MAX_COUNT 1000000ul

struct child {
  pid_t pid;
  unsigned long long id;
  /* When its process tree is next looked at (monotonic ms), and how many looks so far. */
  long long next_sample;
  int samples;
  /* The largest summed resident memory of its tree seen so far, in KB. */
  unsigned long long tree_kb;
  /* Read end of its output pipe (-1 once closed), its log (-1 until the first byte), the
   * log's path and header, and the errno of a failed open or write of the log (0: none). */
  int out;
  int log;
  char *log_path;
  char *header;
  int log_err;
  int log_opened;
};

static struct child *children;
static size_t nchildren, capchildren;

/* The environment of later runs: a copy of the 'E' frame, and pointers into it. */
static char *env_block;
static char **env_vars;
static size_t env_count;

static int devnull = -1;

static void kill_all(void) {
  for (size_t i = 0; i < nchildren; i++) kill(-children[i].pid, SIGKILL);
}

static void shutdown_now(int code) {
  kill_all();
  _exit(code);
}

static void fatal(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* Nobody may read it; the exit code says enough then. */
  if (write(2, "forkserver: ", 12) < 0 || write(2, msg, strlen(msg)) < 0 || write(2, "\n", 1) < 0) {
  }
  shutdown_now(2);
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      /* batch's end of the pipe is gone: nobody can hear about the steps any more. */
      shutdown_now(0);
    }
    p += w;
    n -= (size_t)w;
  }
}

static void reply(const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n > sizeof line - 2) n = (int)(sizeof line - 2);
  /* One line per reply, whatever a message contains (a file name with a newline). */
  for (int i = 0; i < n; i++)
    if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
  line[n++] = '\n';
  write_all(1, line, (size_t)n);
}

/* "ENOENT: no such file or directory", as Node words a system error. */
static const char *error_text(int err) {
  static const struct {
    int code;
    const char *name;
  } names[] = {{ENOENT, "ENOENT"}, {EACCES, "EACCES"}, {EPERM, "EPERM"}, {ENOTDIR, "ENOTDIR"}, {EISDIR, "EISDIR"}, {ENOEXEC, "ENOEXEC"}, {E2BIG, "E2BIG"}, {ENOMEM, "ENOMEM"}, {EAGAIN, "EAGAIN"}, {ELOOP, "ELOOP"}, {ENAMETOOLONG, "ENAMETOOLONG"}, {ETXTBSY, "ETXTBSY"}, {EMFILE, "EMFILE"}, {ENFILE, "ENFILE"}, {ENOSPC, "ENOSPC"}, {EROFS, "EROFS"}, {EIO, "EIO"}, {EDQUOT, "EDQUOT"}};
  static char out[160];
  const char *name = NULL;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (names[i].code == err) name = names[i].name;
  char code[32];
  if (!name) {
    snprintf(code, sizeof code, "errno %d", err);
    name = code;
  }
  snprintf(out, sizeof out, "%s: %s", name, strerror(err));
  size_t at = strlen(name) + 2;
  if (out[at] >= 'A' && out[at] <= 'Z') out[at] = (char)(out[at] - 'A' + 'a');
  return out;
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) fatal("out of memory");
  return q;
}

/* ---- request parsing: every field must end with a NUL inside the frame ---- */

struct cursor {
  char *p, *end;
};

static const char *field(struct cursor *c, const char *what) {
  char *nul = memchr(c->p, '\0', (size_t)(c->end - c->p));
  if (!nul) fatal("bad request: %s is missing or not NUL-terminated", what);
  char *s = c->p;
  c->p = nul + 1;
  return s;
}

static unsigned long long number(struct cursor *c, const char *what, unsigned long long max) {
  const char *s = field(c, what);
  size_t len = strlen(s);
  if (len == 0 || len > 19) fatal("bad request: %s is not a number", what);
  unsigned long long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') fatal("bad request: %s is not a number", what);
    v = v * 10 + (unsigned long long)(s[i] - '0');
  }
  if (v > max) fatal("bad request: %s is too large (%llu)", what, v);
  return v;
}

static void check_var(const char *kv, const char *what) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) fatal("bad request: %s entry is not KEY=VALUE", what);
}

/* ---- starting a step ---- */

/* mkdir -p of the folder of `file`. */
static int make_parents(const char *file) {
  size_t len = strlen(file);
  char *dir = xrealloc(NULL, len + 1);
  memcpy(dir, file, len + 1);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) {
    free(dir);
    return 0;
  }
  *slash = '\0';
  int rc = 0;
  for (char *p = dir + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char was = *p;
      *p = '\0';
      if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
        rc = -1;
        break;
      }
      *p = was;
      if (was == '\0') break;
    }
  }
  int saved = errno;
  free(dir);
  errno = saved;
  return rc;
}

/* The log's folder exists (or was created): the last one checked is remembered, so the
 * steps of one run cost one stat for it in all. 0, or -1 with errno set. */
static int ensure_log_dir(const char *file) {
  static char *last;
  const char *slash = strrchr(file, '/');
  if (!slash || slash == file) return 0;
  size_t len = (size_t)(slash - file);
  if (last && strlen(last) == len && memcmp(last, file, len) == 0) return 0;
  char *dir = xrealloc(NULL, len + 1);
  memcpy(dir, file, len);
  dir[len] = '\0';
  struct stat st;
  int rc = stat(dir, &st);
  if (rc < 0 && errno == ENOENT) {
    rc = make_parents(file);
    if (rc == 0) rc = stat(dir, &st);
  }
  if (rc == 0 && !S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    rc = -1;
  }
  if (rc < 0) {
    int saved = errno;
    free(dir);
    errno = saved;
    return -1;
  }
  free(last);
  last = dir;
  return 0;
}

/* The log for append; its folder created only when the open finds it missing. */
static int open_log(const char *file) {
  int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd >= 0 || errno != ENOENT) return fd;
  if (make_parents(file) < 0) return -1;
  return open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
}

static int write_header(int fd, const char *p) {
  size_t n = strlen(p);
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* `a/b` made absolute against `cwd` (the child resolves relative paths after its chdir). */
static char *join(const char *cwd, const char *dir, size_t dirlen, const char *file) {
  size_t cl = strlen(cwd), fl = strlen(file);
  char *out = xrealloc(NULL, cl + dirlen + fl + 3);
  size_t n = 0;
  if (dirlen == 0 || dir[0] != '/') {
    memcpy(out, cwd, cl);
    n = cl;
    out[n++] = '/';
  }
  memcpy(out + n, dir, dirlen);
  n += dirlen;
  if (dirlen > 0) out[n++] = '/';
  memcpy(out + n, file, fl + 1);
  return out;
}

/* The program to run, as libuv's execvp does it: a name with a slash as is (relative to the
 * step's folder), else the first executable file of the step's PATH (default /usr/bin:/bin).
 * NULL with errno set when there is none. */
static char *resolve(const char *file, const char *cwd, char **envp) {
  if (strchr(file, '/')) return file[0] == '/' ? strdup(file) : join(cwd, "", 0, file);
  const char *path = "/usr/bin:/bin";
  for (char **e = envp; *e; e++)
    if (strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
  int err = ENOENT;
  for (const char *p = path;;) {
    const char *colon = strchrnul(p, ':');
    /* An empty entry is the current folder, as for execvp. */
    char *cand = join(cwd, p, (size_t)(colon - p), file);
    struct stat st;
    if (stat(cand, &st) == 0) {
      if (S_ISREG(st.st_mode) && access(cand, X_OK) == 0) return cand;
      /* There, but not something to run: execvp goes on looking and says EACCES. */
      err = EACCES;
    }
    free(cand);
    if (*colon == '\0') break;
    p = colon + 1;
  }
  errno = err;
  return NULL;
}

/* ---- memory of a step's process tree ----
 * ru_maxrss at the end is the largest single process the command waited for; a pipeline's
 * processes run side by side, so the tree's summed resident memory is looked at too, as the
 * Node helper does: 5, 20 and 50 ms after the start, then every 50 ms. A step shorter than
 * 5 ms costs nothing here. */
static const int SAMPLE_DELAYS[] = {5, 15, 30};
#define SAMPLE_EVERY 50
/* Processes looked at per tree at most. */
#define MAX_TREE 4096

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads a small /proc file whole; its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n >= 0) buf[n] = '\0';
  return n;
}

/* Appends the children listed in `path` (space-separated pids) to the stack. */
static void push_children(const char *path, pid_t **stack, size_t *n, size_t *cap) {
  char buf[8192];
  if (read_small(path, buf, sizeof buf) <= 0) return;
  for (char *p = buf; *p;) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p) break;
    if (v > 0 && v <= INT_MAX) {
      if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *stack = xrealloc(*stack, *cap * sizeof **stack);
      }
      (*stack)[(*n)++] = (pid_t)v;
    }
    p = end;
  }
}

/* Summed resident memory (KB) of `root` and its descendants now. */
static unsigned long long tree_rss_kb(pid_t root) {
  static long page_kb;
  if (!page_kb) page_kb = sysconf(_SC_PAGESIZE) / 1024;
  size_t n = 0, cap = 64, seen = 0;
  pid_t *stack = xrealloc(NULL, cap * sizeof *stack);
  unsigned long long kb = 0;
  stack[n++] = root;
  char path[64], buf[256];
  while (n > 0 && seen++ < MAX_TREE) {
    pid_t p = stack[--n];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)p);
    unsigned long size, resident;
    if (read_small(path, buf, sizeof buf) > 0 && sscanf(buf, "%lu %lu", &size, &resident) == 2) kb += (unsigned long long)resident * (unsigned long long)page_kb;
    /* Each thread's children: most processes have one thread, whose id is the pid. */
    snprintf(path, sizeof path, "/proc/%d/task", (int)p);
    DIR *d = opendir(path);
    if (!d) continue;
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      char kids[96];
      snprintf(kids, sizeof kids, "/proc/%d/task/%.20s/children", (int)p, e->d_name);
      push_children(kids, &stack, &n, &cap);
    }
    closedir(d);
  }
  free(stack);
  return kb;
}

/* Looks at every tree whose time has come; the poll timeout until the next one (-1: none). */
static int sample_due(void) {
  long long now = now_ms(), next = -1;
  for (size_t i = 0; i < nchildren; i++) {
    struct child *c = &children[i];
    if (c->next_sample <= now) {
      unsigned long long kb = tree_rss_kb(c->pid);
      if (kb > c->tree_kb) c->tree_kb = kb;
      c->samples++;
      c->next_sample = now + (c->samples < 3 ? SAMPLE_DELAYS[c->samples] : SAMPLE_EVERY);
    }
    if (next < 0 || c->next_sample < next) next = c->next_sample;
  }
  if (next < 0) return -1;
  return next > now ? (int)(next - now) : 0;
}

static void add_child(pid_t pid, unsigned long long id) {
  if (nchildren == capchildren) {
    capchildren = capchildren ? capchildren * 2 : 8;
    children = xrealloc(children, capchildren * sizeof *children);
  }
  children[nchildren].pid = pid;
  children[nchildren].id = id;
  children[nchildren].next_sample = now_ms() + SAMPLE_DELAYS[0];
  children[nchildren].samples = 0;
  children[nchildren].tree_kb = 0;
  children[nchildren].out = -1;
  children[nchildren].log = -1;
  children[nchildren].log_path = NULL;
  children[nchildren].header = NULL;
  children[nchildren].log_err = 0;
  children[nchildren].log_opened = 0;
  nchildren++;
}

/* ---- a step's output: pipe to log, the log created on the first byte ---- */

static char iobuf[1 << 16];

static void log_bytes(struct child *c, const char *p, size_t n) {
  if (c->log_err) return;
  if (c->log < 0) {
    c->log = open_log(c->log_path);
    if (c->log < 0 || write_header(c->log, c->header) < 0) {
      c->log_err = errno ? errno : EIO;
      c->log_opened = c->log >= 0;
      return;
    }
    c->log_opened = 1;
  }
  while (n > 0) {
    ssize_t w = write(c->log, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      c->log_err = errno;
      return;
    }
    p += w;
    n -= (size_t)w;
  }
}

/* Reads what the step's pipe holds now into its log. `drain`: until nothing is left (the
 * step ended); otherwise a bounded number of reads, so one chatty step cannot starve the
 * others. Closes the pipe at its end of file. */
static void pump(struct child *c, int drain) {
  for (int reads = 0; c->out >= 0 && (drain || reads < 16); reads++) {
    ssize_t n = read(c->out, iobuf, sizeof iobuf);
    if (n > 0) {
      log_bytes(c, iobuf, (size_t)n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    close(c->out);
    c->out = -1;
  }
}

static void release_output(struct child *c) {
  if (c->out >= 0) close(c->out);
  if (c->log >= 0) close(c->log);
  free(c->log_path);
  free(c->header);
  c->out = c->log = -1;
  c->log_path = c->header = NULL;
}

static void run_step(struct cursor *c) {
  unsigned long long id = number(c, "id", 999999999999999ull);
  const char *file = field(c, "file");
  const char *cwd = field(c, "cwd");
  const char *log = field(c, "log");
  const char *header = field(c, "header");
  if (!*file || !*cwd || !*log) fatal("bad request %llu: empty file, cwd or log", id);
  size_t argc = (size_t)number(c, "argument count", MAX_COUNT);
  if (argc > (size_t)(c->end - c->p)) fatal("bad request %llu: more arguments than bytes", id);
  char **argv = xrealloc(NULL, (argc + 2) * sizeof *argv);
  argv[0] = (char *)file;
  for (size_t i = 0; i < argc; i++) argv[i + 1] = (char *)field(c, "argument");
  argv[argc + 1] = NULL;
  size_t xc = (size_t)number(c, "extra variable count", MAX_COUNT);
  if (xc > (size_t)(c->end - c->p)) fatal("bad request %llu: more variables than bytes", id);
  char **envp = xrealloc(NULL, (env_count + xc + 1) * sizeof *envp);
  size_t ne = 0;
  char **extra = envp + env_count; /* filled first at the end, then moved down */
  for (size_t i = 0; i < xc; i++) {
    extra[i] = (char *)field(c, "extra variable");
    check_var(extra[i], "extra variable");
  }
  if (c->p != c->end) fatal("bad request %llu: bytes after the last field", id);
  /* The run's variables not set again by this step's, then the step's. */
  char **kept = xrealloc(NULL, (env_count + 1) * sizeof *kept);
  for (size_t i = 0; i < env_count; i++) {
    size_t klen = (size_t)(strchr(env_vars[i], '=') - env_vars[i]) + 1;
    int over = 0;
    for (size_t j = 0; j < xc && !over; j++) over = strncmp(extra[j], env_vars[i], klen) == 0;
    if (!over) kept[ne++] = env_vars[i];
  }
  memmove(envp + ne, extra, xc * sizeof *envp);
  memcpy(envp, kept, ne * sizeof *envp);
  envp[ne + xc] = NULL;
  free(kept);

  if (ensure_log_dir(log) < 0) {
    reply("fail %llu cannot open the log %s: %s", id, log, error_text(errno));
    goto out;
  }
  char *prog = resolve(file, cwd, envp);
  if (!prog) {
    reply("fail %llu cannot start \"%s\": %s", id, file, error_text(errno));
    goto out;
  }
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) {
    reply("fail %llu cannot start \"%s\": %s", id, file, error_text(errno));
    free(prog);
    goto out;
  }
  fcntl(pfd[0], F_SETFL, O_NONBLOCK);
  int fd = pfd[1];
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&fa, devnull, 0);
  posix_spawn_file_actions_adddup2(&fa, fd, 1);
  posix_spawn_file_actions_adddup2(&fa, fd, 2);
  posix_spawn_file_actions_addchdir_np(&fa, cwd);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  /* A session and process group of its own (pgid = pid), as Node's `detached` gives: batch
   * kills the group on timeout or interrupt. Signals as a fresh process has them (this
   * server blocks some for its signalfd). */
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  pid_t pid;
  int rc = posix_spawn(&pid, prog, &fa, &attr, argv, envp);
  if (rc == ENOEXEC) {
    /* A script without #!: run by the shell, as execvp does. */
    char **shargv = xrealloc(NULL, (argc + 3) * sizeof *shargv);
    shargv[0] = "/bin/sh";
    shargv[1] = prog;
    for (size_t i = 0; i < argc; i++) shargv[i + 2] = argv[i + 1];
    shargv[argc + 2] = NULL;
    rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, shargv, envp);
    free(shargv);
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  /* The child holds its own copy of the descriptor now. */
  close(fd);
  free(prog);
  if (rc != 0) {
    close(pfd[0]);
    reply("fail %llu cannot start \"%s\": %s", id, file, error_text(rc));
    goto out;
  }
  add_child(pid, id);
  struct child *ch = &children[nchildren - 1];
  ch->out = pfd[0];
  ch->log_path = strdup(log);
  ch->header = strdup(header);
  if (!ch->log_path || !ch->header) fatal("out of memory");
  reply("start %llu %d", id, (int)pid);
out:
  free(argv);
  free(envp);
}

static void set_env(struct cursor *c) {
  size_t count = (size_t)number(c, "variable count", MAX_COUNT);
  if (count > (size_t)(c->end - c->p)) fatal("bad request: more variables than bytes");
  size_t len = (size_t)(c->end - c->p);
  char *block = xrealloc(NULL, len + 1);
  memcpy(block, c->p, len);
  block[len] = '\0';
  char **vars = xrealloc(NULL, (count + 1) * sizeof *vars);
  struct cursor b = {block, block + len};
  for (size_t i = 0; i < count; i++) {
    vars[i] = (char *)field(&b, "variable");
    check_var(vars[i], "variable");
  }
  if (b.p != b.end) fatal("bad request: bytes after the last variable");
  vars[count] = NULL;
  free(env_block);
  free(env_vars);
  env_block = block;
  env_vars = vars;
  env_count = count;
}

static void handle(char *payload, size_t len) {
  struct cursor c = {payload + 1, payload + len};
  switch (payload[0]) {
  case 'E':
    set_env(&c);
    break;
  case 'R':
    run_step(&c);
    break;
  default:
    fatal("bad request: unknown type byte 0x%02x", (unsigned char)payload[0]);
  }
}

/* ---- reaping ---- */

static void reap(void) {
  for (;;) {
    int status;
    struct rusage ru;
    pid_t pid = wait4(-1, &status, WNOHANG, &ru);
    if (pid <= 0) return;
    size_t i = 0;
    while (i < nchildren && children[i].pid != pid) i++;
    if (i == nchildren) continue;
    struct child c = children[i];
    unsigned long long id = c.id;
    unsigned long long tree_kb = c.tree_kb;
    children[i] = children[--nchildren];
    /* Anything still in the step's group after it exited is killed, and says so. */
    int left = 0;
    if (kill(-pid, 0) == 0) {
      left = 1;
      kill(-pid, SIGKILL);
    }
    /* Everything it wrote is in the pipe now (a process outside its group that still holds
     * the pipe is not waited for): into the log before batch hears of the end. */
    pump(&c, 1);
    int log_err = c.log_err, log_opened = c.log_opened;
    char *log_path = c.log_path;
    c.log_path = NULL;
    release_output(&c);
    if (log_err) {
      reply("fail %llu cannot %s the log %s: %s", id, log_opened ? "write" : "open", log_path, error_text(log_err));
      free(log_path);
      continue;
    }
    free(log_path);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    /* The kernel's account of the child and every descendant it waited for. */
    unsigned long long cpu = (unsigned long long)ru.ru_utime.tv_sec * 1000000ull + (unsigned long long)ru.ru_utime.tv_usec +
                             (unsigned long long)ru.ru_stime.tv_sec * 1000000ull + (unsigned long long)ru.ru_stime.tv_usec;
    unsigned long long peak = (unsigned long long)(ru.ru_maxrss > 0 ? ru.ru_maxrss : 0);
    if (tree_kb > peak) peak = tree_kb;
    reply("end %llu %d %d %d %llu %llu", id, code, sig, left, cpu, peak);
  }
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) fatal("sigprocmask: %s", strerror(errno));
  int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) fatal("signalfd: %s", strerror(errno));
  /* Replies are written whole, blocking: a non-blocking pipe's EAGAIN is no reason to stop. */
  int fl = fcntl(1, F_GETFL);
  if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(1, F_SETFL, fl & ~O_NONBLOCK);
  devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) fatal("/dev/null: %s", strerror(errno));
  /* Before this line nothing was started: batch may start waiting steps itself if we die. */
  reply("ready %d", PROTOCOL);

  size_t cap = 1 << 16, len = 0;
  char *buf = xrealloc(NULL, cap);
  struct pollfd *fds = NULL;
  size_t capfds = 0;
  for (;;) {
    if (capfds < nchildren + 2) {
      capfds = (nchildren + 2) * 2;
      fds = xrealloc(fds, capfds * sizeof *fds);
    }
    fds[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
    fds[1] = (struct pollfd){.fd = 0, .events = POLLIN};
    /* Each running step's output pipe (-1 once closed: poll skips it). */
    size_t nfds = 2;
    for (size_t i = 0; i < nchildren; i++) fds[nfds++] = (struct pollfd){.fd = children[i].out, .events = POLLIN};
    if (poll(fds, nfds, sample_due()) < 0) {
      if (errno == EINTR) continue;
      fatal("poll: %s", strerror(errno));
    }
    /* Output first (the children array is as it was at the poll; reaping reorders it). */
    for (size_t k = 2; k < nfds; k++) {
      if (!fds[k].revents || fds[k].fd < 0) continue;
      for (size_t i = 0; i < nchildren; i++)
        if (children[i].out == fds[k].fd) pump(&children[i], 0);
    }
    if (fds[0].revents) {
      struct signalfd_siginfo si;
      int chld = 0;
      while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGCHLD) chld = 1;
        else shutdown_now(0);
      }
      if (chld) reap();
    }
    if (!fds[1].revents) continue;
    if (len == cap) {
      if (cap >= MAX_FRAME + 4) fatal("bad request: frame too large");
      cap *= 2;
      buf = xrealloc(buf, cap);
    }
    ssize_t n = read(0, buf + len, cap - len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    /* batch went away (or closed us): its steps go too. */
    if (n <= 0) shutdown_now(0);
    len += (size_t)n;
    size_t pos = 0;
    while (len - pos >= 4) {
      const unsigned char *h = (const unsigned char *)buf + pos;
      uint32_t flen = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
      if (flen == 0 || flen > MAX_FRAME) fatal("bad request: frame length %u", (unsigned)flen);
      if (len - pos - 4 < flen) break;
      handle(buf + pos + 4, flen);
      pos += 4 + flen;
    }
    memmove(buf, buf + pos, len - pos);
    len -= pos;
  }
}
