// flexfs's FUSE layer: a thin bridge from libfuse3's low-level API to JavaScript.
//
// It moves requests and replies and holds no filesystem rule (docs/FUSE.md):
// - Receive threads (or, with `inline`, the JS thread through uv_poll) read /dev/fuse into pool
//   blocks and let libfuse decode each request into a low-level handler below. A handler copies
//   the arguments into a Request, registers the fuse_req_t in the pending table under a numeric
//   id, queues it and returns: no libfuse thread ever waits on JavaScript. A large write takes
//   over the block it was read into, which becomes the JS Buffer (no copy in the layer).
// - One thread-safe-function call drains the whole queue (batching): JavaScript gets an array of
//   request objects and answers each later with reply*(id, ...). fuse_reply_* is thread safe.
// - A deadline thread answers EIO for requests still pending after deadlineMs; a reply that comes
//   later finds no id in the table and is ignored (returns false): never a double reply.
// - Notifications (inval_inode/inval_entry/delete) run on their own thread and resolve a promise,
//   so a notification that blocks in the kernel never blocks JavaScript or a request.
// - unmount(): lazy umount (umount2 MNT_DETACH as root, fusermount3 -u -z otherwise), join the
//   loop, fail what is still pending, close and destroy the session; resolves a promise.
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <napi.h>

#include <sys/mount.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// Op codes shared with JavaScript (exported as OP_NAMES, index = code).
enum Op : uint8_t {
  OP_LOOKUP, OP_FORGET, OP_GETATTR, OP_SETATTR, OP_READLINK, OP_MKNOD, OP_MKDIR, OP_UNLINK,
  OP_RMDIR, OP_SYMLINK, OP_RENAME, OP_LINK, OP_OPEN, OP_READ, OP_WRITE, OP_FLUSH, OP_RELEASE,
  OP_FSYNC, OP_OPENDIR, OP_READDIR, OP_RELEASEDIR, OP_FSYNCDIR, OP_STATFS, OP_SETXATTR,
  OP_GETXATTR, OP_LISTXATTR, OP_REMOVEXATTR, OP_ACCESS, OP_CREATE, OP_GETLK, OP_SETLK, OP_FLOCK,
  OP_FALLOCATE, OP_READDIRPLUS, OP_LSEEK, OP_BATCH_FORGET, OP_COUNT
};
const char *const OP_NAMES[OP_COUNT] = {
  "lookup", "forget", "getattr", "setattr", "readlink", "mknod", "mkdir", "unlink",
  "rmdir", "symlink", "rename", "link", "open", "read", "write", "flush", "release",
  "fsync", "opendir", "readdir", "releasedir", "fsyncdir", "statfs", "setxattr",
  "getxattr", "listxattr", "removexattr", "access", "create", "getlk", "setlk", "flock",
  "fallocate", "readdirplus", "lseek", "batchForget",
};

// Events that are not requests, delivered through the same queue.
enum EventKind : uint8_t { EV_REQUEST, EV_NOTIFY_DONE, EV_INIT, EV_LOOP_EXIT, EV_CLOSED };

// Reusable payload buffers for large writes: a fresh 1 MiB malloc is an mmap whose 256 page
// faults cost more than the copy itself. Process-wide (a JS Buffer may outlive its session);
// a buffer comes back when V8 collects the Buffer that wrapped it.
class BufferPool {
 public:
  static constexpr size_t kMin = 64 << 10, kKeep = 64;
  // One block holds a whole request as libfuse reads it (its buffer: 256 pages + a header),
  // so a receive buffer can be handed to JavaScript as it is.
  static size_t blockSize() {
    static const size_t s = 256 * (size_t)sysconf(_SC_PAGESIZE) + (64 << 10);
    return s;
  }
  static char *get(size_t n, size_t &cap) {
    const size_t kSize = blockSize();
    if (n >= kMin && n <= kSize) {
      std::lock_guard<std::mutex> g(mu_);
      cap = kSize;
      if (!free_.empty()) { char *p = free_.back(); free_.pop_back(); return p; }
      return static_cast<char *>(malloc(kSize));
    }
    cap = n;
    return static_cast<char *>(malloc(n ? n : 1));
  }
  // Fill the pool with `n` buffers whose pages are already mapped (first writes fault no pages).
  static void prewarm(size_t n) {
    std::lock_guard<std::mutex> g(mu_);
    const size_t kSize = blockSize();
    while (free_.size() < n) {
      char *p = static_cast<char *>(malloc(kSize));
      if (!p) return;
      memset(p, 0, kSize);
      free_.push_back(p);
    }
  }
  static void put(char *p, size_t cap) {
    if (cap == blockSize()) {
      std::lock_guard<std::mutex> g(mu_);
      if (free_.size() < kKeep) { free_.push_back(p); return; }
    }
    free(p);
  }
 private:
  static inline std::mutex mu_;
  static inline std::vector<char *> free_;
};

struct Request {
  EventKind kind = EV_REQUEST;
  uint8_t op = 0;
  uint64_t id = 0;  // 0: no reply expected (forget)
  uint64_t ino = 0, ino2 = 0;
  std::string name, name2;
  bool hasFh = false;
  uint64_t fh = 0, lockOwner = 0;
  int64_t off = 0, length = 0;
  uint64_t size = 0;
  uint32_t mode = 0, rdev = 0, umask = 0, mask = 0;
  int flags = 0, toSet = 0, extra = 0;  // extra: datasync/whence/flock op/sleep/writepage
  uid_t uid = 0; gid_t gid = 0; pid_t pid = 0;
  bool hasGroups = false;
  std::vector<gid_t> groups;
  struct stat attr {};
  struct flock lock {};
  char *block = nullptr;  // write/setxattr payload's allocation (BufferPool); passes to a JS Buffer
  char *data = nullptr;   // the payload inside block
  size_t dataLen = 0, dataCap = 0;
  std::vector<uint64_t> forgets;  // batch_forget: ino, nlookup pairs
  // EV_NOTIFY_DONE
  Napi::Promise::Deferred *deferred = nullptr;
  int result = 0;
  std::string message;
  ~Request() { if (block) BufferPool::put(block, dataCap); }
};

struct Pending { fuse_req_t req; Clock::time_point deadline; };


class Session;

struct NotifyJob {
  int kind;  // 0 inval_inode, 1 inval_entry, 2 delete
  uint64_t a, b; int64_t off, len;
  std::string name;
  Napi::Promise::Deferred *deferred;
};

class Session : public Napi::ObjectWrap<Session> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Session", {
      InstanceMethod("mount", &Session::Mount),
      InstanceMethod("unmount", &Session::Unmount),
      InstanceMethod("connInfo", &Session::ConnInfo),
      InstanceMethod("pendingCount", &Session::PendingCount),
      InstanceMethod("replyErr", &Session::ReplyErr),
      InstanceMethod("replyEntry", &Session::ReplyEntry),
      InstanceMethod("replyCreate", &Session::ReplyCreate),
      InstanceMethod("replyAttr", &Session::ReplyAttr),
      InstanceMethod("replyReadlink", &Session::ReplyReadlink),
      InstanceMethod("replyOpen", &Session::ReplyOpen),
      InstanceMethod("replyWrite", &Session::ReplyWrite),
      InstanceMethod("replyBuf", &Session::ReplyBuf),
      InstanceMethod("replyXattr", &Session::ReplyXattr),
      InstanceMethod("replyStatfs", &Session::ReplyStatfs),
      InstanceMethod("replyLseek", &Session::ReplyLseek),
      InstanceMethod("replyLock", &Session::ReplyLock),
      InstanceMethod("notifyInvalInode", &Session::NotifyInvalInode),
      InstanceMethod("notifyInvalEntry", &Session::NotifyInvalEntry),
      InstanceMethod("notifyDelete", &Session::NotifyDelete),
    });
  }

  // new Session(dispatch: (events: object[]) => void)
  explicit Session(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Session>(info) {
    if (info.Length() < 1 || !info[0].IsFunction()) {
      Napi::TypeError::New(info.Env(), "Session(dispatch): dispatch must be a function").ThrowAsJavaScriptException();
      return;
    }
    dispatch_ = Napi::Persistent(info[0].As<Napi::Function>());
  }

  ~Session() override { if (se_ && !closed_) abandon(); }

 private:
  // ---- configuration (set by mount, read by libfuse threads) ----
  struct fuse_session *se_ = nullptr;
  std::string mountpoint_;
  unsigned maxWrite_ = 1 << 20;
  int readdirplus_ = 1;  // 0 off, 1 always, 2 auto
  bool writeback_ = false, posixAcl_ = false, dontMask_ = false, atomicOTrunc_ = false, killpriv_ = true;
  unsigned maxThreads_ = 4;
  // Inline mode: the JS thread reads /dev/fuse itself (uv_poll) instead of libfuse's threads:
  // one thread wake per request instead of two. Requests still reach handlers batched and
  // replies stay asynchronous; only the receive side moves.
  bool inline_ = false;
  uv_poll_t *poll_ = nullptr;
  struct fuse_buf fbuf_ {};
  napi_env env_ = nullptr;
  Napi::AsyncContext *actx_ = nullptr;
  bool inlineEnded_ = false;  // guarded by tmu_
  static inline thread_local bool inReadable_ = false;
  // The receive block the current thread is processing; a large write takes it over (no copy).
  static inline thread_local char *tlBlock_ = nullptr;
  static inline thread_local bool tlStolen_ = false;
  std::vector<std::thread> recvThreads_;
  std::atomic<int> recvLive_{0};
  std::chrono::milliseconds deadline_{30000};
  uint64_t groupsMask_ = 0;  // bit per op: fetch supplementary groups for it
  struct fuse_conn_info conn_ {};
  std::atomic<bool> initDone_{false};

  Napi::FunctionReference dispatch_;
  static void onDrain(Napi::Env env, Napi::Function, Session *s, void *);
  using Tsfn = Napi::TypedThreadSafeFunction<Session, void, &Session::onDrain>;
  Tsfn tsfn_;
  bool tsfnLive_ = false;

  // ---- the queue to JavaScript ----
  std::mutex qmu_;
  std::vector<Request *> queue_;
  bool scheduled_ = false;

  // ---- pending requests: id -> fuse_req_t; ids grow, so map order is deadline order ----
  std::mutex pmu_;
  std::map<uint64_t, Pending> pending_;
  uint64_t nextId_ = 1;
  // Shared by every reply; exclusive while the session fd is closed (no reply to a reused fd).
  std::shared_mutex fdLock_;
  bool closed_ = false;

  std::thread deadlineThread_, notifyThread_, closeThread_;
  std::mutex tmu_;
  std::condition_variable tcv_;
  bool stopThreads_ = false;
  std::deque<NotifyJob> notifyJobs_;
  bool unmounting_ = false;
  Napi::Promise::Deferred *unmountDeferred_ = nullptr;

  static Session *of(fuse_req_t req) { return static_cast<Session *>(fuse_req_userdata(req)); }

  // ---- libfuse thread side ----
  void post(Request *r) {
    if (inReadable_) {  // inline mode, inside onReadable: drained when the batch is read
      std::lock_guard<std::mutex> g(qmu_);
      queue_.push_back(r);
      return;
    }
    bool wake;
    {
      std::lock_guard<std::mutex> g(qmu_);
      queue_.push_back(r);
      wake = !scheduled_;
      scheduled_ = true;
    }
    if (wake) tsfn_.NonBlockingCall();
  }

  Request *begin(fuse_req_t req, Op op, fuse_ino_t ino, const struct fuse_file_info *fi = nullptr) {
    auto *r = new Request();
    r->op = op;
    r->ino = ino;
    const struct fuse_ctx *c = fuse_req_ctx(req);
    r->uid = c->uid; r->gid = c->gid; r->pid = c->pid; r->umask = c->umask;
    if (groupsMask_ & (1ull << op)) {
      gid_t buf[64];
      int n = fuse_req_getgroups(req, 64, buf);
      r->hasGroups = true;
      if (n > 64) {
        r->groups.resize(n);
        n = fuse_req_getgroups(req, n, r->groups.data());
        r->groups.resize(n > 0 ? n : 0);
      } else if (n > 0) {
        r->groups.assign(buf, buf + n);
      }
    }
    if (fi) { r->hasFh = true; r->fh = fi->fh; r->flags = fi->flags; r->lockOwner = fi->lock_owner; }
    std::lock_guard<std::mutex> g(pmu_);
    r->id = nextId_++;
    pending_.emplace(r->id, Pending{req, Clock::now() + deadline_});
    return r;
  }

  static void ll_init(void *ud, struct fuse_conn_info *conn) {
    auto *s = static_cast<Session *>(ud);
    conn->max_write = s->maxWrite_;  // libfuse derives max_pages from it (buffer is 1 MiB + header)
    auto want = [&](unsigned cap, bool on) {
      if (on && (conn->capable & cap)) conn->want |= cap; else conn->want &= ~cap;
    };
    want(FUSE_CAP_ASYNC_READ, true);
    want(FUSE_CAP_PARALLEL_DIROPS, true);
    want(FUSE_CAP_READDIRPLUS, s->readdirplus_ != 0);
    want(FUSE_CAP_READDIRPLUS_AUTO, s->readdirplus_ == 2);
    want(FUSE_CAP_WRITEBACK_CACHE, s->writeback_);
    want(FUSE_CAP_POSIX_ACL, s->posixAcl_);
    want(FUSE_CAP_DONT_MASK, s->posixAcl_ || s->dontMask_);
    want(FUSE_CAP_ATOMIC_O_TRUNC, s->atomicOTrunc_);
    want(FUSE_CAP_HANDLE_KILLPRIV, s->killpriv_);
    want(FUSE_CAP_EXPORT_SUPPORT, false);
    s->conn_ = *conn;
    s->initDone_ = true;
    auto *r = new Request();
    r->kind = EV_INIT;
    s->post(r);
  }

  static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
    Request *r = of(req)->begin(req, OP_LOOKUP, parent); r->name = name; of(req)->post(r);
  }
  static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
    Session *s = of(req);
    auto *r = new Request(); r->op = OP_FORGET; r->ino = ino; r->size = nlookup;
    fuse_reply_none(req);
    s->post(r);
  }
  static void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
    Session *s = of(req);
    auto *r = new Request(); r->op = OP_BATCH_FORGET;
    r->forgets.reserve(count * 2);
    for (size_t i = 0; i < count; i++) { r->forgets.push_back(forgets[i].ino); r->forgets.push_back(forgets[i].nlookup); }
    fuse_reply_none(req);
    s->post(r);
  }
  static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    Request *r = of(req)->begin(req, OP_GETATTR, ino, fi); of(req)->post(r);
  }
  static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
    Request *r = of(req)->begin(req, OP_SETATTR, ino, fi); r->attr = *attr; r->toSet = to_set; of(req)->post(r);
  }
  static void ll_readlink(fuse_req_t req, fuse_ino_t ino) {
    Request *r = of(req)->begin(req, OP_READLINK, ino); of(req)->post(r);
  }
  static void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
    Request *r = of(req)->begin(req, OP_MKNOD, parent); r->name = name; r->mode = mode; r->rdev = rdev; of(req)->post(r);
  }
  static void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
    Request *r = of(req)->begin(req, OP_MKDIR, parent); r->name = name; r->mode = mode; of(req)->post(r);
  }
  static void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
    Request *r = of(req)->begin(req, OP_UNLINK, parent); r->name = name; of(req)->post(r);
  }
  static void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) {
    Request *r = of(req)->begin(req, OP_RMDIR, parent); r->name = name; of(req)->post(r);
  }
  static void ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
    Request *r = of(req)->begin(req, OP_SYMLINK, parent); r->name = name; r->name2 = link; of(req)->post(r);
  }
  static void ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname, unsigned int flags) {
    Request *r = of(req)->begin(req, OP_RENAME, parent);
    r->name = name; r->ino2 = newparent; r->name2 = newname; r->flags = (int)flags; of(req)->post(r);
  }
  static void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
    Request *r = of(req)->begin(req, OP_LINK, ino); r->ino2 = newparent; r->name = newname; of(req)->post(r);
  }
  static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    Request *r = of(req)->begin(req, OP_OPEN, ino, fi); of(req)->post(r);
  }
  static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
    Request *r = of(req)->begin(req, OP_READ, ino, fi); r->size = size; r->off = off; of(req)->post(r);
  }
  static void ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
    // The payload lies in the receive block read from /dev/fuse (the one copy, by the kernel).
    // A large write takes the block over and hands it to JavaScript as it is (the receive loop
    // gets a fresh block); a small one is copied out (cheap, and keeps 1 MiB blocks for big ones).
    size_t cap;
    char *block, *data;
    if (size >= BufferPool::kMin && tlBlock_ && buf >= tlBlock_ && buf + size <= tlBlock_ + BufferPool::blockSize()) {
      block = tlBlock_; cap = BufferPool::blockSize(); data = const_cast<char *>(buf);
      tlStolen_ = true;
    } else {
      block = BufferPool::get(size, cap);
      if (!block) { fuse_reply_err(req, ENOMEM); return; }
      memcpy(block, buf, size);
      data = block;
    }
    Request *r = of(req)->begin(req, OP_WRITE, ino, fi);
    r->block = block; r->data = data; r->dataLen = size; r->dataCap = cap; r->off = off; r->extra = fi->writepage; of(req)->post(r);
  }
  static void ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    Request *r = of(req)->begin(req, OP_FLUSH, ino, fi); of(req)->post(r);
  }
  static void ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    Request *r = of(req)->begin(req, OP_RELEASE, ino, fi); r->extra = fi->flock_release; of(req)->post(r);
  }
  static void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
    Request *r = of(req)->begin(req, OP_FSYNC, ino, fi); r->extra = datasync; of(req)->post(r);
  }
  static void ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    Request *r = of(req)->begin(req, OP_OPENDIR, ino, fi); of(req)->post(r);
  }
  static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
    Request *r = of(req)->begin(req, OP_READDIR, ino, fi); r->size = size; r->off = off; of(req)->post(r);
  }
  static void ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
    Request *r = of(req)->begin(req, OP_READDIRPLUS, ino, fi); r->size = size; r->off = off; of(req)->post(r);
  }
  static void ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    Request *r = of(req)->begin(req, OP_RELEASEDIR, ino, fi); of(req)->post(r);
  }
  static void ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
    Request *r = of(req)->begin(req, OP_FSYNCDIR, ino, fi); r->extra = datasync; of(req)->post(r);
  }
  static void ll_statfs(fuse_req_t req, fuse_ino_t ino) {
    Request *r = of(req)->begin(req, OP_STATFS, ino); of(req)->post(r);
  }
  static void ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags) {
    size_t cap;
    char *copy = BufferPool::get(size, cap);
    if (!copy) { fuse_reply_err(req, ENOMEM); return; }
    memcpy(copy, value, size);
    Request *r = of(req)->begin(req, OP_SETXATTR, ino);
    r->name = name; r->block = copy; r->data = copy; r->dataLen = size; r->dataCap = cap; r->flags = flags; of(req)->post(r);
  }
  static void ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
    Request *r = of(req)->begin(req, OP_GETXATTR, ino); r->name = name; r->size = size; of(req)->post(r);
  }
  static void ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
    Request *r = of(req)->begin(req, OP_LISTXATTR, ino); r->size = size; of(req)->post(r);
  }
  static void ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name) {
    Request *r = of(req)->begin(req, OP_REMOVEXATTR, ino); r->name = name; of(req)->post(r);
  }
  static void ll_access(fuse_req_t req, fuse_ino_t ino, int mask) {
    Request *r = of(req)->begin(req, OP_ACCESS, ino); r->mask = mask; of(req)->post(r);
  }
  static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi) {
    Request *r = of(req)->begin(req, OP_CREATE, parent, fi); r->name = name; r->mode = mode; of(req)->post(r);
  }
  static void ll_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock) {
    Request *r = of(req)->begin(req, OP_GETLK, ino, fi); r->lock = *lock; of(req)->post(r);
  }
  static void ll_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock, int sleep) {
    Request *r = of(req)->begin(req, OP_SETLK, ino, fi); r->lock = *lock; r->extra = sleep; of(req)->post(r);
  }
  static void ll_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op) {
    Request *r = of(req)->begin(req, OP_FLOCK, ino, fi); r->extra = op; of(req)->post(r);
  }
  static void ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length, struct fuse_file_info *fi) {
    Request *r = of(req)->begin(req, OP_FALLOCATE, ino, fi); r->mode = (uint32_t)mode; r->off = offset; r->length = length; of(req)->post(r);
  }
  static void ll_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi) {
    Request *r = of(req)->begin(req, OP_LSEEK, ino, fi); r->off = off; r->extra = whence; of(req)->post(r);
  }

  // Only the ops JavaScript implements are set: libfuse answers the rest itself (ENOSYS for most;
  // open/opendir/release/releasedir succeed, statfs gets its default).
  void fillOps(struct fuse_lowlevel_ops &o, uint64_t has) {
    memset(&o, 0, sizeof o);
    o.init = ll_init;
    auto on = [&](Op op) { return (has >> op) & 1; };
    if (on(OP_LOOKUP)) o.lookup = ll_lookup;
    if (on(OP_FORGET)) { o.forget = ll_forget; o.forget_multi = ll_forget_multi; }
    if (on(OP_GETATTR)) o.getattr = ll_getattr;
    if (on(OP_SETATTR)) o.setattr = ll_setattr;
    if (on(OP_READLINK)) o.readlink = ll_readlink;
    if (on(OP_MKNOD)) o.mknod = ll_mknod;
    if (on(OP_MKDIR)) o.mkdir = ll_mkdir;
    if (on(OP_UNLINK)) o.unlink = ll_unlink;
    if (on(OP_RMDIR)) o.rmdir = ll_rmdir;
    if (on(OP_SYMLINK)) o.symlink = ll_symlink;
    if (on(OP_RENAME)) o.rename = ll_rename;
    if (on(OP_LINK)) o.link = ll_link;
    if (on(OP_OPEN)) o.open = ll_open;
    if (on(OP_READ)) o.read = ll_read;
    if (on(OP_WRITE)) o.write = ll_write;
    if (on(OP_FLUSH)) o.flush = ll_flush;
    if (on(OP_RELEASE)) o.release = ll_release;
    if (on(OP_FSYNC)) o.fsync = ll_fsync;
    if (on(OP_OPENDIR)) o.opendir = ll_opendir;
    if (on(OP_READDIR)) o.readdir = ll_readdir;
    if (on(OP_READDIRPLUS)) o.readdirplus = ll_readdirplus;
    if (on(OP_RELEASEDIR)) o.releasedir = ll_releasedir;
    if (on(OP_FSYNCDIR)) o.fsyncdir = ll_fsyncdir;
    if (on(OP_STATFS)) o.statfs = ll_statfs;
    if (on(OP_SETXATTR)) o.setxattr = ll_setxattr;
    if (on(OP_GETXATTR)) o.getxattr = ll_getxattr;
    if (on(OP_LISTXATTR)) o.listxattr = ll_listxattr;
    if (on(OP_REMOVEXATTR)) o.removexattr = ll_removexattr;
    if (on(OP_ACCESS)) o.access = ll_access;
    if (on(OP_CREATE)) o.create = ll_create;
    if (on(OP_GETLK)) o.getlk = ll_getlk;
    if (on(OP_SETLK)) o.setlk = ll_setlk;
    if (on(OP_FLOCK)) o.flock = ll_flock;
    if (on(OP_FALLOCATE)) o.fallocate = ll_fallocate;
    if (on(OP_LSEEK)) o.lseek = ll_lseek;
  }

  // ---- JavaScript side: drain the queue into one dispatch call ----
  static void setNum(Napi::Object &o, const char *k, double v) { o.Set(k, Napi::Number::New(o.Env(), v)); }

  static Napi::Value timeNs(Napi::Env env, const struct timespec &ts) {
    return Napi::BigInt::New(env, (int64_t)((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec));
  }

  Napi::Object toJs(Napi::Env env, Request *r) {
    Napi::Object o = Napi::Object::New(env);
    setNum(o, "op", r->op);
    setNum(o, "id", (double)r->id);
    if (r->op == OP_BATCH_FORGET) {
      Napi::Array a = Napi::Array::New(env, r->forgets.size());
      for (size_t i = 0; i < r->forgets.size(); i++) a.Set(i, Napi::Number::New(env, (double)r->forgets[i]));
      o.Set("forgets", a);
      return o;
    }
    setNum(o, "ino", (double)r->ino);
    if (r->op == OP_FORGET) { setNum(o, "nlookup", (double)r->size); return o; }
    setNum(o, "uid", r->uid); setNum(o, "gid", r->gid); setNum(o, "pid", r->pid);
    if (r->hasGroups) {
      Napi::Array g = Napi::Array::New(env, r->groups.size());
      for (size_t i = 0; i < r->groups.size(); i++) g.Set(i, Napi::Number::New(env, r->groups[i]));
      o.Set("groups", g);
    }
    if (r->hasFh) { setNum(o, "fh", (double)r->fh); setNum(o, "flags", r->flags); }
    if (!r->name.empty()) o.Set("name", Napi::String::New(env, r->name));
    switch (r->op) {
      case OP_MKNOD: case OP_MKDIR: case OP_CREATE:
        setNum(o, "mode", r->mode); setNum(o, "umask", r->umask);
        if (r->op == OP_MKNOD) setNum(o, "rdev", r->rdev);
        break;
      case OP_SYMLINK: o.Set("target", Napi::String::New(env, r->name2)); break;
      case OP_RENAME:
        setNum(o, "newParent", (double)r->ino2); o.Set("newName", Napi::String::New(env, r->name2));
        setNum(o, "flags", r->flags);
        break;
      case OP_LINK: setNum(o, "newParent", (double)r->ino2); break;
      case OP_READ: case OP_READDIR: case OP_READDIRPLUS:
        setNum(o, "size", (double)r->size); setNum(o, "offset", (double)r->off); break;
      case OP_WRITE: case OP_SETXATTR: {
        char *d = r->data, *block = r->block; r->block = nullptr;
        size_t cap = r->dataCap;
        // Tell V8 the payload's size so it collects spent Buffers (and recycles the payload) soon.
        Napi::MemoryManagement::AdjustExternalMemory(env, (int64_t)cap);
        o.Set(r->op == OP_WRITE ? "data" : "value",
              Napi::Buffer<char>::New(env, d, r->dataLen, [cap, block](Napi::Env e, char *) {
                Napi::MemoryManagement::AdjustExternalMemory(e, -(int64_t)cap);
                BufferPool::put(block, cap);
              }));
        if (r->op == OP_WRITE) { setNum(o, "offset", (double)r->off); o.Set("writepage", Napi::Boolean::New(env, r->extra != 0)); }
        else setNum(o, "flags", r->flags);
        break;
      }
      case OP_FLUSH: setNum(o, "lockOwner", (double)r->lockOwner); break;
      case OP_RELEASE: setNum(o, "lockOwner", (double)r->lockOwner); o.Set("flockRelease", Napi::Boolean::New(env, r->extra != 0)); break;
      case OP_FSYNC: case OP_FSYNCDIR: o.Set("datasync", Napi::Boolean::New(env, r->extra != 0)); break;
      case OP_GETXATTR: case OP_LISTXATTR: setNum(o, "size", (double)r->size); break;
      case OP_ACCESS: setNum(o, "mask", r->mask); break;
      case OP_FALLOCATE: setNum(o, "mode", r->mode); setNum(o, "offset", (double)r->off); setNum(o, "length", (double)r->length); break;
      case OP_LSEEK: setNum(o, "offset", (double)r->off); setNum(o, "whence", r->extra); break;
      case OP_FLOCK: setNum(o, "operation", r->extra); setNum(o, "lockOwner", (double)r->lockOwner); break;
      case OP_GETLK: case OP_SETLK: {
        Napi::Object l = Napi::Object::New(env);
        setNum(l, "type", r->lock.l_type); setNum(l, "whence", r->lock.l_whence);
        setNum(l, "start", (double)r->lock.l_start); setNum(l, "len", (double)r->lock.l_len); setNum(l, "pid", r->lock.l_pid);
        o.Set("lock", l); setNum(o, "lockOwner", (double)r->lockOwner);
        if (r->op == OP_SETLK) o.Set("sleep", Napi::Boolean::New(env, r->extra != 0));
        break;
      }
      case OP_SETATTR: {
        setNum(o, "toSet", r->toSet);
        const struct stat &a = r->attr;
        if (r->toSet & FUSE_SET_ATTR_MODE) setNum(o, "mode", a.st_mode);
        if (r->toSet & FUSE_SET_ATTR_UID) setNum(o, "newUid", a.st_uid);
        if (r->toSet & FUSE_SET_ATTR_GID) setNum(o, "newGid", a.st_gid);
        if (r->toSet & FUSE_SET_ATTR_SIZE) setNum(o, "size", (double)a.st_size);
        if (r->toSet & FUSE_SET_ATTR_ATIME) o.Set("atime", timeNs(env, a.st_atim));
        if (r->toSet & FUSE_SET_ATTR_MTIME) o.Set("mtime", timeNs(env, a.st_mtim));
        if (r->toSet & FUSE_SET_ATTR_CTIME) o.Set("ctime", timeNs(env, a.st_ctim));
        break;
      }
      default: break;
    }
    return o;
  }

  static void drain(Napi::Env env, Session *s) {
    std::vector<Request *> batch;
    {
      std::lock_guard<std::mutex> g(s->qmu_);
      batch.swap(s->queue_);
      s->scheduled_ = false;
    }
    Napi::HandleScope scope(env);
    Napi::Array arr = Napi::Array::New(env);
    uint32_t n = 0;
    for (Request *r : batch) {
      switch (r->kind) {
        case EV_REQUEST: arr.Set(n++, s->toJs(env, r)); break;
        case EV_NOTIFY_DONE:
          if (r->result < 0 && r->result != -ENOENT) {
            r->deferred->Reject(Napi::Error::New(env, std::string("notify failed: ") + strerror(-r->result)).Value());
          } else {
            r->deferred->Resolve(Napi::Number::New(env, r->result));
          }
          delete r->deferred;
          break;
        case EV_INIT: case EV_LOOP_EXIT: {
          Napi::Object o = Napi::Object::New(env);
          o.Set("event", Napi::String::New(env, r->kind == EV_INIT ? "init" : "loopExit"));
          if (r->kind == EV_LOOP_EXIT) setNum(o, "result", r->result);
          arr.Set(n++, o);
          break;
        }
        case EV_CLOSED:
          if (r->result == 0) { s->Unref(); r->deferred->Resolve(env.Undefined()); }
          else r->deferred->Reject(Napi::Error::New(env, r->message).Value());
          delete r->deferred;
          break;
      }
      delete r;
    }
    if (n > 0) {
      if (s->actx_) s->dispatch_.MakeCallback(env.Global(), {arr}, *s->actx_);  // from a raw uv callback
      else s->dispatch_.Call({arr});
    }
    if (env.IsExceptionPending()) {
      // The TypeScript dispatcher catches everything; an exception here is a bug in it.
      Napi::Error e = env.GetAndClearPendingException();
      fprintf(stderr, "flexfs-fuse: dispatch threw: %s\n", e.Message().c_str());
    }
  }

  // ---- mount ----
  static uint64_t opMask(Napi::Value v) {
    uint64_t m = 0;
    if (!v.IsArray()) return 0;
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      uint32_t op = a.Get(i).As<Napi::Number>().Uint32Value();
      if (op < OP_COUNT) m |= 1ull << op;
    }
    return m;
  }

  // mount(mountpoint, { args: string[], ops: number[], groupsOps: number[], maxWrite, readdirplus,
  //   writebackCache, posixAcl, dontMask, atomicOTrunc, handleKillpriv, deadlineMs, maxThreads, inline, writeBuffers })
  Napi::Value Mount(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (se_) { Napi::Error::New(env, "this session is already mounted").ThrowAsJavaScriptException(); return env.Undefined(); }
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) {
      Napi::TypeError::New(env, "mount(mountpoint, options)").ThrowAsJavaScriptException(); return env.Undefined();
    }
    mountpoint_ = info[0].As<Napi::String>().Utf8Value();
    Napi::Object o = info[1].As<Napi::Object>();
    auto num = [&](const char *k, double d) { Napi::Value v = o.Get(k); return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : d; };
    auto flag = [&](const char *k, bool d) { Napi::Value v = o.Get(k); return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : d; };
    maxWrite_ = (unsigned)num("maxWrite", 1 << 20);
    readdirplus_ = (int)num("readdirplus", 1);
    writeback_ = flag("writebackCache", false);
    posixAcl_ = flag("posixAcl", false);
    dontMask_ = flag("dontMask", false);
    atomicOTrunc_ = flag("atomicOTrunc", false);
    killpriv_ = flag("handleKillpriv", true);
    deadline_ = std::chrono::milliseconds((int64_t)num("deadlineMs", 30000));
    maxThreads_ = (unsigned)num("maxThreads", 4);
    inline_ = flag("inline", false);
    groupsMask_ = opMask(o.Get("groupsOps"));
    uint64_t has = opMask(o.Get("ops"));

    std::vector<std::string> args{"flexfs"};
    Napi::Value av = o.Get("args");
    if (av.IsArray()) {
      Napi::Array a = av.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++) args.push_back(a.Get(i).ToString().Utf8Value());
    }
    std::vector<char *> argv;
    for (auto &s : args) argv.push_back(const_cast<char *>(s.c_str()));
    struct fuse_args fargs = FUSE_ARGS_INIT((int)argv.size(), argv.data());
    struct fuse_lowlevel_ops ops;
    fillOps(ops, has);

    if (has & (1ull << OP_WRITE)) BufferPool::prewarm((size_t)num("writeBuffers", 16));
    tsfn_ = Tsfn::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo &) {}), "flexfs-fuse", 0, 1, this);
    tsfnLive_ = true;
    se_ = fuse_session_new(&fargs, &ops, sizeof ops, this);
    fuse_opt_free_args(&fargs);
    if (!se_) {
      releaseTsfn();
      Napi::Error::New(env, "fuse_session_new failed (bad mount options? libfuse printed the reason on stderr)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    // Non-root mounts go through fusermount3, which opens /dev/fuse with the caller's own rights
    // (that mode is who may use FUSE): say so instead of libfuse's bare "Permission denied".
    if (geteuid() != 0 && access("/dev/fuse", R_OK | W_OK) != 0) {
      fuse_session_destroy(se_); se_ = nullptr;
      releaseTsfn();
      Napi::Error::New(env, "mounting " + mountpoint_ + " as uid " + std::to_string(geteuid()) +
                       ": /dev/fuse is not readable and writable for this user (" + strerror(errno) +
                       "); non-root mounts need it (mode 0666, as Debian's fuse3 ships it): fusermount3 opens it with the caller's rights").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (fuse_session_mount(se_, mountpoint_.c_str()) != 0) {
      fuse_session_destroy(se_); se_ = nullptr;
      releaseTsfn();
      Napi::Error::New(env, "fuse_session_mount failed for " + mountpoint_ +
                       " (does it exist, is fuse3/fusermount3 installed, is user_allow_other set for allow_other?)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    closed_ = false;
    stopThreads_ = false;
    Ref();  // the JS object stays alive while mounted (threads use it); Unref when closed
    if (inline_) {
      env_ = env;
      if (!actx_) actx_ = new Napi::AsyncContext(env, "flexfs-fuse-inline");
      int fd = fuse_session_fd(se_);
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      uv_loop_t *loop = nullptr;
      napi_get_uv_event_loop(env, &loop);
      poll_ = new uv_poll_t;
      uv_poll_init(loop, poll_, fd);
      poll_->data = this;
      inlineEnded_ = false;
      uv_poll_start(poll_, UV_READABLE, onReadable);
    } else {
      unsigned n = maxThreads_ ? maxThreads_ : 1;
      recvLive_ = (int)n;
      for (unsigned i = 0; i < n; i++) recvThreads_.emplace_back([this] { recvLoop(); });
    }
    deadlineThread_ = std::thread([this] { deadlineLoop(); });
    notifyThread_ = std::thread([this] { notifyLoop(); });
    return env.Undefined();
  }

  // Inline mode: read what the kernel has queued (up to a batch), let libfuse decode it into the
  // handlers above (which queue Requests), then dispatch the batch to JavaScript at once.
  static void onReadable(uv_poll_t *h, int status, int) {
    Session *s = static_cast<Session *>(h->data);
    bool ended = status < 0;
    inReadable_ = true;
    for (int i = 0; i < 64 && !ended; i++) {
      if (!s->fbuf_.mem) { size_t cap; s->fbuf_.mem = BufferPool::get(BufferPool::blockSize(), cap); }
      tlBlock_ = static_cast<char *>(s->fbuf_.mem); tlStolen_ = false;
      int res = fuse_session_receive_buf(s->se_, &s->fbuf_);
      if (res == -EAGAIN || res == -EINTR) break;
      if (res <= 0 || fuse_session_exited(s->se_)) { ended = true; break; }
      fuse_session_process_buf(s->se_, &s->fbuf_);
      if (tlStolen_) s->fbuf_.mem = nullptr;
    }
    tlBlock_ = nullptr;
    inReadable_ = false;
    {
      Napi::Env env(s->env_);
      Napi::HandleScope scope(env);
      drain(env, s);
    }
    if (ended) {
      uv_poll_stop(h);
      uv_close(reinterpret_cast<uv_handle_t *>(h), [](uv_handle_t *x) { delete reinterpret_cast<uv_poll_t *>(x); });
      s->poll_ = nullptr;
      if (s->fbuf_.mem) BufferPool::put(static_cast<char *>(s->fbuf_.mem), BufferPool::blockSize());
      s->fbuf_.mem = nullptr;
      { std::lock_guard<std::mutex> g(s->tmu_); s->inlineEnded_ = true; }
      s->tcv_.notify_all();
      auto *r = new Request(); r->kind = EV_LOOP_EXIT; r->result = 0;
      s->post(r);
    }
  }

  // Threaded receive: each thread reads a request into its own pool block, lets libfuse decode it
  // into the handlers above (which only queue it) and reads the next one. The last thread out
  // reports the end of the session.
  void recvLoop() {
    struct fuse_buf fb {};
    for (;;) {
      if (!fb.mem) { size_t cap; fb.mem = BufferPool::get(BufferPool::blockSize(), cap); }
      if (!fb.mem) break;
      tlBlock_ = static_cast<char *>(fb.mem); tlStolen_ = false;
      int res = fuse_session_receive_buf(se_, &fb);
      if (res == -EINTR || res == -EAGAIN) continue;
      if (res <= 0 || fuse_session_exited(se_)) break;
      fuse_session_process_buf(se_, &fb);
      if (tlStolen_) fb.mem = nullptr;
    }
    tlBlock_ = nullptr;
    if (fb.mem) BufferPool::put(static_cast<char *>(fb.mem), BufferPool::blockSize());
    fuse_session_exit(se_);  // the others may still be blocked in read: they get ENODEV too
    if (--recvLive_ == 0) {
      auto *r = new Request(); r->kind = EV_LOOP_EXIT; r->result = 0;
      post(r);
    }
  }

  void releaseTsfn() { if (tsfnLive_) { tsfn_.Release(); tsfnLive_ = false; } }

  Napi::Value ConnInfo(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!initDone_) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    setNum(o, "protoMajor", conn_.proto_major); setNum(o, "protoMinor", conn_.proto_minor);
    setNum(o, "maxWrite", conn_.max_write); setNum(o, "maxRead", conn_.max_read);
    setNum(o, "maxReadahead", conn_.max_readahead);
    setNum(o, "capable", conn_.capable); setNum(o, "want", conn_.want);
    return o;
  }

  Napi::Value PendingCount(const Napi::CallbackInfo &info) {
    std::lock_guard<std::mutex> g(pmu_);
    return Napi::Number::New(info.Env(), (double)pending_.size());
  }

  // ---- deadline thread ----
  void deadlineLoop() {
    auto tick = std::max(std::chrono::milliseconds(5), std::min(std::chrono::milliseconds(1000), deadline_ / 10));
    std::unique_lock<std::mutex> lk(tmu_);
    while (!stopThreads_) {
      tcv_.wait_for(lk, tick);
      if (stopThreads_) break;
      lk.unlock();
      auto now = Clock::now();
      std::vector<fuse_req_t> expired;
      {
        std::lock_guard<std::mutex> g(pmu_);
        while (!pending_.empty() && pending_.begin()->second.deadline <= now) {
          expired.push_back(pending_.begin()->second.req);
          pending_.erase(pending_.begin());
        }
      }
      if (!expired.empty()) {
        std::shared_lock<std::shared_mutex> fl(fdLock_);
        if (!closed_) for (fuse_req_t q : expired) fuse_reply_err(q, EIO);
      }
      lk.lock();
    }
  }

  // ---- notify thread ----
  void notifyLoop() {
    std::unique_lock<std::mutex> lk(tmu_);
    for (;;) {
      tcv_.wait(lk, [this] { return stopThreads_ || !notifyJobs_.empty(); });
      if (notifyJobs_.empty() && stopThreads_) break;
      NotifyJob j = std::move(notifyJobs_.front());
      notifyJobs_.pop_front();
      lk.unlock();
      int rc;
      {
        std::shared_lock<std::shared_mutex> fl(fdLock_);
        if (closed_) rc = -ENOTCONN;
        else if (j.kind == 0) rc = fuse_lowlevel_notify_inval_inode(se_, j.a, j.off, j.len);
        else if (j.kind == 1) rc = fuse_lowlevel_notify_inval_entry(se_, j.a, j.name.c_str(), j.name.size());
        else rc = fuse_lowlevel_notify_delete(se_, j.a, j.b, j.name.c_str(), j.name.size());
      }
      auto *r = new Request(); r->kind = EV_NOTIFY_DONE; r->deferred = j.deferred; r->result = rc;
      post(r);
      lk.lock();
    }
    // Jobs left after stop: fail them.
    for (auto &j : notifyJobs_) {
      auto *r = new Request(); r->kind = EV_NOTIFY_DONE; r->deferred = j.deferred; r->result = -ENOTCONN;
      post(r);
    }
    notifyJobs_.clear();
  }

  Napi::Value queueNotify(const Napi::CallbackInfo &info, NotifyJob j) {
    Napi::Env env = info.Env();
    auto *d = new Napi::Promise::Deferred(env);
    Napi::Promise p = d->Promise();
    if (!se_ || unmounting_) {
      d->Reject(Napi::Error::New(env, "notify: the session is not mounted").Value());
      delete d;
      return p;
    }
    j.deferred = d;
    { std::lock_guard<std::mutex> g(tmu_); notifyJobs_.push_back(std::move(j)); }
    tcv_.notify_all();
    return p;
  }
  static uint64_t u64(const Napi::Value &v) { return (uint64_t)v.As<Napi::Number>().DoubleValue(); }
  // notifyInvalInode(ino, off, len): drop cached attrs (and data in [off, off+len), len 0 = all; off -1 = attrs only)
  Napi::Value NotifyInvalInode(const Napi::CallbackInfo &info) {
    return queueNotify(info, NotifyJob{0, u64(info[0]), 0, (int64_t)info[1].As<Napi::Number>().DoubleValue(),
                                       (int64_t)info[2].As<Napi::Number>().DoubleValue(), "", nullptr});
  }
  // notifyInvalEntry(parent, name)
  Napi::Value NotifyInvalEntry(const Napi::CallbackInfo &info) {
    return queueNotify(info, NotifyJob{1, u64(info[0]), 0, 0, 0, info[1].As<Napi::String>().Utf8Value(), nullptr});
  }
  // notifyDelete(parent, child, name)
  Napi::Value NotifyDelete(const Napi::CallbackInfo &info) {
    return queueNotify(info, NotifyJob{2, u64(info[0]), u64(info[1]), 0, 0, info[2].As<Napi::String>().Utf8Value(), nullptr});
  }

  // ---- unmount ----
  static int lazyUmount(const std::string &mp, std::string &err) {
    if (geteuid() == 0) {
      if (umount2(mp.c_str(), MNT_DETACH) == 0 || errno == EINVAL) return 0;  // EINVAL: not mounted any more
      err = std::string("umount2 ") + mp + ": " + strerror(errno);
      return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
      execlp("fusermount3", "fusermount3", "-u", "-z", "-q", "--", mp.c_str(), (char *)nullptr);
      _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0) { err = "fork fusermount3 failed"; return -1; }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { err = "fusermount3 -u -z " + mp + " failed (exit " + std::to_string(WEXITSTATUS(st)) + ")"; return -1; }
    return 0;
  }

  // The loop has returned (or will, once the kernel aborts the connection): fail what is pending,
  // close the fd, destroy the session, stop the helper threads.
  void finish() {
    for (auto &t : recvThreads_) if (t.joinable()) t.join();
    recvThreads_.clear();
    if (inline_) {  // the JS thread's poll sees the connection end and stops reading
      std::unique_lock<std::mutex> lk(tmu_);
      tcv_.wait(lk, [this] { return inlineEnded_; });
    }
    std::vector<fuse_req_t> left;
    {
      std::unique_lock<std::shared_mutex> fl(fdLock_);
      {
        std::lock_guard<std::mutex> g(pmu_);
        for (auto &p : pending_) left.push_back(p.second.req);
        pending_.clear();
      }
      for (fuse_req_t q : left) fuse_reply_err(q, EIO);  // frees libfuse's request objects
      closed_ = true;
      fuse_session_unmount(se_);
      fuse_session_destroy(se_);
    }
    { std::lock_guard<std::mutex> g(tmu_); stopThreads_ = true; }
    tcv_.notify_all();
    if (deadlineThread_.joinable()) deadlineThread_.join();
    if (notifyThread_.joinable()) notifyThread_.join();
  }

  Napi::Value Unmount(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    auto *d = new Napi::Promise::Deferred(env);
    Napi::Promise p = d->Promise();
    if (!se_ || unmounting_) {
      if (unmounting_) d->Reject(Napi::Error::New(env, "unmount already in progress").Value());
      else d->Resolve(env.Undefined());
      delete d;
      return p;
    }
    unmounting_ = true;
    if (closeThread_.joinable()) closeThread_.join();
    closeThread_ = std::thread([this, d] {
      std::string err;
      int rc = lazyUmount(mountpoint_, err);
      if (rc != 0) {
        // Not unmounted: the loop keeps serving; report and leave the session as it is.
        auto *r = new Request(); r->kind = EV_CLOSED; r->deferred = d; r->result = -1; r->message = err;
        unmounting_ = false;
        post(r);
        return;
      }
      finish();
      auto *r = new Request(); r->kind = EV_CLOSED; r->deferred = d; r->result = 0;
      post(r);
      tsfnLive_ = false;
      tsfn_.Release();  // queued calls (the EV_CLOSED above) are still delivered
    });
    return p;
  }

  // Object collected while mounted (JS lost it): best effort, never called in normal use.
  void abandon() {
    std::string err;
    lazyUmount(mountpoint_, err);
    if (closeThread_.joinable()) closeThread_.join();
  }

  // ---- replies (JavaScript thread) ----
  // Take the request for `id`; nullptr if it was answered already (deadline) or the session closed.
  fuse_req_t take(uint64_t id) {
    std::lock_guard<std::mutex> g(pmu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return nullptr;
    fuse_req_t q = it->second.req;
    pending_.erase(it);
    return q;
  }

  template <typename F>
  Napi::Value reply(const Napi::CallbackInfo &info, F f) {
    Napi::Env env = info.Env();
    std::shared_lock<std::shared_mutex> fl(fdLock_);
    if (closed_) return Napi::Boolean::New(env, false);
    fuse_req_t q = take(u64(info[0]));
    if (!q) return Napi::Boolean::New(env, false);
    int rc = f(q);
    return Napi::Boolean::New(env, rc == 0 || rc == -ENOENT);  // ENOENT: the kernel gave up (interrupted)
  }

  static double numOr(const Napi::Object &o, const char *k, double d) {
    Napi::Value v = o.Get(k);
    return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : d;
  }
  static bool flagOr(const Napi::Object &o, const char *k) {
    Napi::Value v = o.Get(k);
    return v.IsBoolean() && v.As<Napi::Boolean>().Value();
  }
  static void timeFrom(const Napi::Object &o, const char *k, struct timespec &ts) {
    Napi::Value v = o.Get(k);
    int64_t ns = 0;
    if (v.IsBigInt()) { bool lossless; ns = v.As<Napi::BigInt>().Int64Value(&lossless); }
    else if (v.IsNumber()) ns = (int64_t)(v.As<Napi::Number>().DoubleValue() * 1e6);  // ms
    ts.tv_sec = ns / 1000000000LL; ts.tv_nsec = ns % 1000000000LL;
    if (ts.tv_nsec < 0) { ts.tv_nsec += 1000000000LL; ts.tv_sec--; }
  }
  // Attr object → struct stat. blocks defaults to the 512-byte blocks covering size.
  static void statFrom(const Napi::Object &a, struct stat &st) {
    memset(&st, 0, sizeof st);
    st.st_ino = (ino_t)numOr(a, "ino", 0);
    st.st_mode = (mode_t)numOr(a, "mode", 0);
    st.st_nlink = (nlink_t)numOr(a, "nlink", 1);
    st.st_uid = (uid_t)numOr(a, "uid", 0);
    st.st_gid = (gid_t)numOr(a, "gid", 0);
    st.st_rdev = (dev_t)numOr(a, "rdev", 0);
    st.st_size = (off_t)numOr(a, "size", 0);
    st.st_blocks = (blkcnt_t)numOr(a, "blocks", (double)((st.st_size + 511) / 512));
    st.st_blksize = (blksize_t)numOr(a, "blksize", 0);
    timeFrom(a, "atime", st.st_atim);
    timeFrom(a, "mtime", st.st_mtim);
    timeFrom(a, "ctime", st.st_ctim);
  }
  static void entryFrom(const Napi::Object &e, struct fuse_entry_param &p) {
    memset(&p, 0, sizeof p);
    p.ino = (fuse_ino_t)numOr(e, "ino", 0);
    p.generation = (uint64_t)numOr(e, "generation", 0);
    p.attr_timeout = numOr(e, "attrTimeout", 0);
    p.entry_timeout = numOr(e, "entryTimeout", 0);
    Napi::Value a = e.Get("attr");
    if (a.IsObject()) statFrom(a.As<Napi::Object>(), p.attr);
  }
  static void openFrom(const Napi::Object &o, struct fuse_file_info &fi) {
    memset(&fi, 0, sizeof fi);
    fi.fh = (uint64_t)numOr(o, "fh", 0);
    fi.direct_io = flagOr(o, "directIo");
    fi.keep_cache = flagOr(o, "keepCache");
    fi.nonseekable = flagOr(o, "nonSeekable");
    fi.cache_readdir = flagOr(o, "cacheReaddir");
    fi.noflush = flagOr(o, "noFlush");
  }

  Napi::Value ReplyErr(const Napi::CallbackInfo &info) {
    int e = info[1].As<Napi::Number>().Int32Value();
    return reply(info, [&](fuse_req_t q) { return fuse_reply_err(q, e); });
  }
  Napi::Value ReplyEntry(const Napi::CallbackInfo &info) {
    struct fuse_entry_param p; entryFrom(info[1].As<Napi::Object>(), p);
    return reply(info, [&](fuse_req_t q) { return fuse_reply_entry(q, &p); });
  }
  Napi::Value ReplyCreate(const Napi::CallbackInfo &info) {
    struct fuse_entry_param p; entryFrom(info[1].As<Napi::Object>(), p);
    struct fuse_file_info fi; openFrom(info[1].As<Napi::Object>(), fi);
    return reply(info, [&](fuse_req_t q) { return fuse_reply_create(q, &p, &fi); });
  }
  Napi::Value ReplyAttr(const Napi::CallbackInfo &info) {
    struct stat st; statFrom(info[1].As<Napi::Object>(), st);
    double timeout = info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : 0;
    return reply(info, [&](fuse_req_t q) { return fuse_reply_attr(q, &st, timeout); });
  }
  Napi::Value ReplyReadlink(const Napi::CallbackInfo &info) {
    std::string s = info[1].As<Napi::String>().Utf8Value();
    return reply(info, [&](fuse_req_t q) { return fuse_reply_readlink(q, s.c_str()); });
  }
  Napi::Value ReplyOpen(const Napi::CallbackInfo &info) {
    struct fuse_file_info fi; openFrom(info[1].As<Napi::Object>(), fi);
    return reply(info, [&](fuse_req_t q) { return fuse_reply_open(q, &fi); });
  }
  Napi::Value ReplyWrite(const Napi::CallbackInfo &info) {
    size_t n = (size_t)info[1].As<Napi::Number>().DoubleValue();
    return reply(info, [&](fuse_req_t q) { return fuse_reply_write(q, n); });
  }
  // replyBuf(id, Uint8Array): the kernel copies during the call, so the buffer only has to live
  // until this returns (the JS caller holds it).
  Napi::Value ReplyBuf(const Napi::CallbackInfo &info) {
    const char *p = nullptr; size_t n = 0;
    if (info[1].IsTypedArray()) {
      Napi::Uint8Array a = info[1].As<Napi::Uint8Array>();
      p = reinterpret_cast<const char *>(a.Data()); n = a.ByteLength();
    }
    return reply(info, [&](fuse_req_t q) { return fuse_reply_buf(q, p, n); });
  }
  Napi::Value ReplyXattr(const Napi::CallbackInfo &info) {
    size_t n = (size_t)info[1].As<Napi::Number>().DoubleValue();
    return reply(info, [&](fuse_req_t q) { return fuse_reply_xattr(q, n); });
  }
  Napi::Value ReplyStatfs(const Napi::CallbackInfo &info) {
    Napi::Object o = info[1].As<Napi::Object>();
    struct statvfs sv; memset(&sv, 0, sizeof sv);
    sv.f_bsize = (unsigned long)numOr(o, "bsize", 4096);
    sv.f_frsize = (unsigned long)numOr(o, "frsize", sv.f_bsize);
    sv.f_blocks = (fsblkcnt_t)numOr(o, "blocks", 0);
    sv.f_bfree = (fsblkcnt_t)numOr(o, "bfree", 0);
    sv.f_bavail = (fsblkcnt_t)numOr(o, "bavail", sv.f_bfree);
    sv.f_files = (fsfilcnt_t)numOr(o, "files", 0);
    sv.f_ffree = (fsfilcnt_t)numOr(o, "ffree", 0);
    sv.f_favail = (fsfilcnt_t)numOr(o, "favail", sv.f_ffree);
    sv.f_namemax = (unsigned long)numOr(o, "namemax", 255);
    return reply(info, [&](fuse_req_t q) { return fuse_reply_statfs(q, &sv); });
  }
  Napi::Value ReplyLseek(const Napi::CallbackInfo &info) {
    off_t off = (off_t)info[1].As<Napi::Number>().DoubleValue();
    return reply(info, [&](fuse_req_t q) { return fuse_reply_lseek(q, off); });
  }
  Napi::Value ReplyLock(const Napi::CallbackInfo &info) {
    Napi::Object o = info[1].As<Napi::Object>();
    struct flock l; memset(&l, 0, sizeof l);
    l.l_type = (short)numOr(o, "type", F_UNLCK); l.l_whence = (short)numOr(o, "whence", SEEK_SET);
    l.l_start = (off_t)numOr(o, "start", 0); l.l_len = (off_t)numOr(o, "len", 0); l.l_pid = (pid_t)numOr(o, "pid", 0);
    return reply(info, [&](fuse_req_t q) { return fuse_reply_lock(q, &l); });
  }
};

void Session::onDrain(Napi::Env env, Napi::Function, Session *s, void *) {
  if (env != nullptr) drain(env, s);
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("Session", Session::Init(env));
  Napi::Array names = Napi::Array::New(env, OP_COUNT);
  for (uint32_t i = 0; i < OP_COUNT; i++) names.Set(i, Napi::String::New(env, OP_NAMES[i]));
  exports.Set("OP_NAMES", names);
  exports.Set("FUSE_VERSION", Napi::Number::New(env, fuse_version()));
  return exports;
}

}  // namespace

NODE_API_MODULE(flexfs_fuse, InitModule)
