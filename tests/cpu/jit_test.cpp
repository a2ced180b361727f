// The JIT: disk cache (another process hits it, damaged entries are
// rebuilt, concurrent processes compiling one kernel both succeed),
// compile errors in emitted-source terms with stage names, batches with
// colliding helper names, and checked (ASan) mode (every supported compiler:
// host_compiler_test.cpp).
//
// Tests that need a second process re-run this executable with
// --gtest_filter=JitChild.* and FOUNDRY_TEST_CHILD=<mode>; the JitChild
// tests skip themselves when that variable is absent.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xxhash.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_support.hpp"

extern char** environ;

namespace {

using namespace foundry_test;
namespace fs = std::filesystem;

const char* double_source = R"(
ALWAYS_INLINE void twice_body(const device float* x, device float* y, constant uint& n, uint i) {
  if (i < n) y[i] = 2.0f * x[i];
}
)";

fc::kernel_source twice_kernel() {
  return {"twice",
          std::string(double_source) +
              entry("twice", "twice_body((const device float*)L->args[0], (device float*)L->args[1], "
                             "*(constant uint*)L->args[2], T->thread_position_in_grid.x)"),
          {}};
}

// Runs twice__cpu over 1000 elements; true if correct.
bool run_twice(const fc::module& m) {
  const uint32_t n = 1000;
  std::vector<float> x(n), y = poisoned<float>(n);
  for (uint32_t i = 0; i < n; ++i) x[i] = float(i) * 0.5f;
  run(m, "twice__cpu", {x.data(), y.data(), const_cast<uint32_t*>(&n)}, {(n + 63) / 64, 1, 1}, {64, 1, 1});
  for (uint32_t i = 0; i < n; ++i)
    if (y[i] != float(i)) return false;
  return true;
}

// True if the cache file `p` is a complete, sealed entry for `key`.
bool entry_intact(const fs::path& p, const std::string& key) {
  std::string bytes;
  return foundry::backend_common::read_regular_file(p, bytes) == 0 &&
         foundry::backend_common::entry_intact(bytes, key, fc::detail::cache_format);
}

// A private cache folder per test, removed afterwards.
struct temp_cache {
  fs::path root;
  temp_cache() {
    root = fs::temp_directory_path() /
           ("foundry-jit-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    fs::create_directories(root);
    fs::permissions(root, fs::perms::owner_all);  // private whatever the umask: the JIT refuses others' folders
  }
  ~temp_cache() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  fc::jit_options options() const {
    fc::jit_options o;
    o.cache_dir = root;
    return o;
  }
};

struct child {
  pid_t pid = -1;
  fs::path log;
};

// Starts this executable again with extra environment entries.
child spawn_self(const std::string& filter, const std::vector<std::string>& env_extra, const fs::path& log) {
  std::vector<std::string> env(env_extra);
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    bool overridden = false;
    for (const auto& x : env_extra) overridden = overridden || kv.substr(0, kv.find('=')) == x.substr(0, x.find('='));
    if (!overridden) env.push_back(kv);
  }
  std::vector<char*> envp;
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = fs::read_symlink("/proc/self/exe").string(), f = "--gtest_filter=" + filter;
  char* argv[] = {exe.data(), f.data(), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  child c;
  c.log = log;
  if (posix_spawn(&c.pid, exe.c_str(), &fa, nullptr, argv, envp.data()) != 0) c.pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return c;
}

int wait_child(const child& c, std::string& output) {
  int status = 0;
  if (c.pid < 0) return -1;
  while (waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::ifstream f(c.log);
  output.assign(std::istreambuf_iterator<char>(f), {});
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string child_mode() {
  const char* m = std::getenv("FOUNDRY_TEST_CHILD");
  return m != nullptr ? m : "";
}

// --- child halves ----------------------------------------------------------

TEST(JitChild, CompileAndRun) {
  if (child_mode() != "compile") GTEST_SKIP() << "runs as a child process only";
  auto m = fc::compile(twice_kernel());
  std::printf("from_disk_cache=%d\n", int(m->from_disk_cache()));
  ASSERT_TRUE(run_twice(*m));
}

TEST(JitChild, OutOfBoundsWrite) {
  if (child_mode() != "asan") GTEST_SKIP() << "runs as a child process only";
  fc::jit_options o;
  o.checked = true;
  auto m = fc::compile({"oob",
                        "ALWAYS_INLINE void oob_body(device float* y, uint i) {\n"
                        "  y[i + 1] = 1.0f;  // writes one past the end for the last thread\n"
                        "}\n" +
                            entry("oob", "oob_body((device float*)L->args[0], T->thread_position_in_grid.x)"),
                        {}},
                       o);
  fc::executor_options eo = fc::get_executor_options();
  eo.stack_bytes = 256 * 1024;  // instrumented frames are larger
  fc::set_executor_options(eo);
  std::vector<float> y(64);
  run(*m, "oob__cpu", {y.data()}, {1, 1, 1}, {64, 1, 1});
  std::printf("no error reported\n");
}

// Compiles into the read-only cache folder FOUNDRY_CACHE_DIR names, as the
// user FOUNDRY_TEST_UID (when set: root can write anywhere, so the parent
// hands the folder to another user), and prints the error.
TEST(JitChild, CompileIntoReadOnlyCache) {
  if (child_mode() != "readonly") GTEST_SKIP() << "runs as a child process only";
  if (const char* uid = std::getenv("FOUNDRY_TEST_UID")) {
    const auto id = static_cast<uid_t>(std::stoul(uid));
    if (::setgid(id) != 0 || ::setuid(id) != 0) {
      std::printf("cannot switch to uid %s: %s\n", uid, std::strerror(errno));
      std::exit(77);
    }
  }
  try {
    (void)fc::compile(twice_kernel());
    std::printf("compiled into a read-only cache\n");
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
  }
}

// --- parent halves ---------------------------------------------------------

TEST(JitCache, SecondProcessHitsDiskCache) {
  temp_cache tc;
  auto m = fc::compile(twice_kernel(), tc.options());
  EXPECT_FALSE(m->from_disk_cache());
  EXPECT_TRUE(run_twice(*m));
  EXPECT_EQ(m->path().parent_path(), tc.root / "cpu");
  EXPECT_EQ(m->path().filename().string(), m->key() + ".so");
  // Same process: memoised, same module.
  EXPECT_EQ(fc::compile(twice_kernel(), tc.options()).get(), m.get());

  std::string out;
  const int rc = wait_child(spawn_self("JitChild.CompileAndRun", {"FOUNDRY_TEST_CHILD=compile",
                                                                  "FOUNDRY_CACHE_DIR=" + tc.root.string()},
                                       tc.root / "child.log"),
                            out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("from_disk_cache=1"), std::string::npos) << out;
}

TEST(JitCache, DamagedEntryIsDeletedAndRebuilt) {
  temp_cache tc;
  fs::path so;
  std::uintmax_t size = 0;
  {
    auto m = fc::compile(twice_kernel(), tc.options());
    so = m->path();
    size = fs::file_size(so);
  }
  for (int damage = 0; damage < 3; ++damage) {
    SCOPED_TRACE("damage " + std::to_string(damage));
    fc::clear_memory_cache();  // the module above is gone: next compile goes to disk
    if (damage == 0) {
      fs::resize_file(so, size / 2);  // truncated
    } else if (damage == 1) {
      std::fstream f(so, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(size / 3));
      f.put('\x5a').put('\x5a').put('\x5a');  // bytes flipped in the middle
    } else {
      std::ofstream(so, std::ios::trunc) << "not an object";
    }
    auto m = fc::compile(twice_kernel(), tc.options());
    EXPECT_FALSE(m->from_disk_cache());
    EXPECT_TRUE(run_twice(*m));
    EXPECT_TRUE(entry_intact(so, m->key()));
    EXPECT_EQ(fs::file_size(so), size);
  }
  // Nothing temporary is left behind.
  for (const auto& e : fs::directory_iterator(tc.root / "cpu"))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
}

TEST(JitCache, ConcurrentProcessesCompilingOneKernelBothSucceed) {
  temp_cache tc;
  const std::vector<std::string> env = {"FOUNDRY_TEST_CHILD=compile", "FOUNDRY_CACHE_DIR=" + tc.root.string()};
  child a = spawn_self("JitChild.CompileAndRun", env, tc.root / "a.log");
  child b = spawn_self("JitChild.CompileAndRun", env, tc.root / "b.log");
  std::string oa, ob;
  EXPECT_EQ(wait_child(a, oa), 0) << oa;
  EXPECT_EQ(wait_child(b, ob), 0) << ob;
  auto m = fc::compile(twice_kernel(), tc.options());
  EXPECT_TRUE(m->from_disk_cache());
  EXPECT_TRUE(run_twice(*m));
}

// --- a cache that fails safe ------------------------------------------------

// Compiles twice_kernel() into `tc` once and returns its entry's path (the
// module is released and forgotten, so the next compile reads the disk).
fs::path twice_entry(const temp_cache& tc) {
  fc::clear_memory_cache();
  fs::path so;
  {
    auto m = fc::compile(twice_kernel(), tc.options());
    so = m->path();
  }
  fc::clear_memory_cache();
  return so;
}

// An object file compiled from `source` (name "twice") by the host compiler,
// outside the cache.
std::string object_of(const std::string& source, const fs::path& dir) {
  const fc::kernel_source k{"twice", source, {}};
  const fs::path cpp = dir / "forged.cpp", so = dir / "forged.so";
  std::ofstream(cpp) << fc::translation_unit(std::span<const fc::kernel_source>(&k, 1));
  auto argv = fc::detail::split_command(fc::detail::resolve_compiler({}));
  argv.insert(argv.end(), {"-std=c++20", "-O2", "-fPIC", "-shared", "-x", "c++", cpp.string(), "-o", so.string()});
  const auto r = fc::detail::run_process(argv);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::ifstream f(so, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Issue C1: a folder at the entry's path made every run fail (std::bad_alloc
// from reading the folder as a file) and was never rebuilt.
TEST(JitCacheSafety, FolderOrLinkAtTheEntryPathIsRemovedAndRebuilt) {
  temp_cache tc;
  const fs::path so = twice_entry(tc);
  fs::remove(so);
  fs::create_directories(so / "inside");
  std::ofstream(so / "inside" / "file") << "x";
  {
    auto m = fc::compile(twice_kernel(), tc.options());
    EXPECT_FALSE(m->from_disk_cache());
    EXPECT_TRUE(run_twice(*m));
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(so)));
  }
  // A symbolic link (here to a good copy of the entry) is not followed.
  fc::clear_memory_cache();
  const fs::path elsewhere = tc.root / "elsewhere.so";
  fs::copy_file(so, elsewhere);
  fs::remove(so);
  fs::create_symlink(elsewhere, so);
  auto m = fc::compile(twice_kernel(), tc.options());
  EXPECT_FALSE(m->from_disk_cache());
  EXPECT_TRUE(run_twice(*m));
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(so)));
  EXPECT_TRUE(fs::exists(elsewhere));
}

// Issue C2: the entry was trusted when its trailer checked out. Here the
// entry is replaced by an object that computes something else (or a
// truncated copy, which faults inside dlopen), followed by a trailer that
// checks out under the previous format (magic "FDRYCPU1", payload size,
// XXH3-64 of the payload, first 64 bits of the key). Such entries must be
// rebuilt, not loaded.
TEST(JitCacheSafety, ObjectWithATrailerOfItsOwnIsRebuiltNotLoaded) {
  temp_cache tc;
  const fs::path so = twice_entry(tc);
  const std::string key = so.stem().string();
  const std::string thrice = object_of(std::string(double_source).replace(std::string(double_source).find("2.0f"), 4,
                                                                          "3.0f") +
                                           entry("twice", "twice_body((const device float*)L->args[0], (device "
                                                          "float*)L->args[1], *(constant uint*)L->args[2], "
                                                          "T->thread_position_in_grid.x)"),
                                       tc.root);
  ASSERT_FALSE(thrice.empty());
  auto old_trailer = [&](const std::string& image) {
    char t[32];
    const std::uint64_t size = image.size(), hash = XXH3_64bits(image.data(), image.size()),
                        k = std::strtoull(key.substr(0, 16).c_str(), nullptr, 16);
    std::memcpy(t, "FDRYCPU1", 8);
    std::memcpy(t + 8, &size, 8);
    std::memcpy(t + 16, &hash, 8);
    std::memcpy(t + 24, &k, 8);
    return image + std::string(t, sizeof t);
  };
  for (const std::string& planted : {thrice, thrice.substr(0, thrice.size() / 2)}) {
    SCOPED_TRACE(planted.size() == thrice.size() ? "other code" : "truncated object");
    fc::clear_memory_cache();
    fs::remove(so);
    std::ofstream(so, std::ios::binary) << old_trailer(planted);
    auto m = fc::compile(twice_kernel(), tc.options());
    EXPECT_FALSE(m->from_disk_cache());
    EXPECT_TRUE(run_twice(*m));
  }
}

// An object truncated before it was sealed (a linker killed mid-way) has a
// content hash that checks out; the ELF check keeps it from dlopen (where
// its segments past the end of the file would fault).
TEST(JitCacheSafety, SealedTruncatedObjectIsRebuiltNotLoaded) {
  temp_cache tc;
  const fs::path so = twice_entry(tc);
  const std::string key = so.stem().string();
  std::string bytes;
  ASSERT_EQ(foundry::backend_common::read_regular_file(so, bytes), 0);
  const std::string image = bytes.substr(0, bytes.size() - foundry::backend_common::cache_trailer_bytes);
  EXPECT_TRUE(fc::detail::loadable_shared_object(image));
  EXPECT_FALSE(fc::detail::loadable_shared_object(image.substr(0, image.size() / 2)));
  foundry::backend_common::write_entry(so.parent_path(), so, key, image.substr(0, image.size() / 2),
                                       fc::detail::cache_format);
  ASSERT_TRUE(entry_intact(so, key));
  auto m = fc::compile(twice_kernel(), tc.options());
  EXPECT_FALSE(m->from_disk_cache());
  EXPECT_TRUE(run_twice(*m));
  EXPECT_EQ(fs::file_size(so), bytes.size());
}

// Issue C2: a cache folder someone else can write to is refused, like ssh
// refuses a key file others can read; the message names the folder, its
// mode or owner, and the way to point elsewhere.
TEST(JitCacheSafety, FolderWritableByOthersIsRefused) {
  for (const char* which : {"cpu", ""}) {
    for (const fs::perms mode : {fs::perms::owner_all | fs::perms::group_all,
                                 fs::perms::owner_all | fs::perms::others_all}) {
      temp_cache tc;
      fc::clear_memory_cache();
      const fs::path dir = which[0] != '\0' ? tc.root / which : tc.root;
      fs::create_directories(tc.root / "cpu");
      fs::permissions(tc.root / "cpu", fs::perms::owner_all);
      fs::permissions(dir, mode);
      try {
        (void)fc::compile(twice_kernel(), tc.options());
        ADD_FAILURE() << "used " << dir << " with mode " << std::oct << int(mode);
      } catch (const std::exception& e) {
        const std::string what = e.what();
        char m[8];
        std::snprintf(m, sizeof m, "%04o", unsigned(mode));
        EXPECT_NE(what.find("cache folder " + dir.string() + ": mode " + m), std::string::npos) << what;
        EXPECT_NE(what.find("FOUNDRY_CACHE_DIR"), std::string::npos) << what;
        EXPECT_NE(what.find("chmod go-w " + dir.string()), std::string::npos) << what;
      }
      EXPECT_TRUE(fs::is_empty(tc.root / "cpu"));  // nothing compiled or written there
    }
  }
}

TEST(JitCacheSafety, FolderOwnedByAnotherUserIsRefused) {
  temp_cache tc;
  fc::clear_memory_cache();
  fs::create_directories(tc.root / "cpu");
  const uid_t other = ::geteuid() == 0 ? 12345 : 0;
  if (::chown((tc.root / "cpu").c_str(), other, static_cast<gid_t>(-1)) != 0)
    GTEST_SKIP() << "cannot hand a folder to uid " << other << " (" << std::strerror(errno)
                 << "): this needs root";
  try {
    (void)fc::compile(twice_kernel(), tc.options());
    ADD_FAILURE() << "used a cache folder owned by uid " << other;
  } catch (const std::exception& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cache folder " + (tc.root / "cpu").string() + ": it is owned by uid " +
                        std::to_string(other)),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("FOUNDRY_CACHE_DIR"), std::string::npos) << what;
  }
  EXPECT_TRUE(fs::is_empty(tc.root / "cpu"));
}

// Issue C3: a compile killed mid-way left `<key>.tmp.<pid>.*` files behind
// for good. Stale ones are removed when the folder is next compiled into;
// recent ones (a compile running in another process) are left alone.
TEST(JitCacheSafety, StaleTemporaryFilesAreRemovedRecentOnesKept) {
  temp_cache tc;
  fc::clear_memory_cache();
  const fs::path dir = tc.root / "cpu";
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all);
  const std::string key = "0123456789abcdef0123456789abcdef";
  const std::vector<fs::path> stale = {dir / (key + ".tmp.4242.0.cpp"), dir / (key + ".tmp.4242.1.so")};
  const std::vector<fs::path> recent = {dir / (key + ".tmp.4343.0.cpp"), dir / (key + ".tmp.4343.1.so")};
  const fs::path other = dir / "notes.tmp.4242.0.txt";  // not a cache temporary
  for (const auto& p : stale) std::ofstream(p) << "partial";
  for (const auto& p : recent) std::ofstream(p) << "partial";
  std::ofstream(other) << "mine";
  for (const auto& p : stale) fs::last_write_time(p, fs::file_time_type::clock::now() - std::chrono::hours(1));
  fs::last_write_time(other, fs::file_time_type::clock::now() - std::chrono::hours(1));
  auto m = fc::compile(twice_kernel(), tc.options());
  EXPECT_FALSE(m->from_disk_cache());
  for (const auto& p : stale) EXPECT_FALSE(fs::exists(p)) << p;
  for (const auto& p : recent) EXPECT_TRUE(fs::exists(p)) << p;
  EXPECT_TRUE(fs::exists(other));
}

// Issue: a read-only cache reported `cannot write …` without the reason.
TEST(JitCacheSafety, ReadOnlyCacheErrorCarriesTheOsReason) {
  temp_cache tc;
  fc::clear_memory_cache();
  const fs::path dir = tc.root / "cpu";
  fs::create_directories(dir);
  std::vector<std::string> env = {"FOUNDRY_TEST_CHILD=readonly", "FOUNDRY_CACHE_DIR=" + tc.root.string()};
  if (::geteuid() == 0) {
    // Root writes through permissions: let another user own the cache.
    const uid_t other = 12345;
    if (::chown(tc.root.c_str(), other, other) != 0 || ::chown(dir.c_str(), other, other) != 0)
      GTEST_SKIP() << "cannot hand the cache to uid " << other << ": " << std::strerror(errno);
    env.push_back("FOUNDRY_TEST_UID=" + std::to_string(other));
  }
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
  std::string out;
  const fs::path log = fs::temp_directory_path() / ("foundry-jit-readonly-" + std::to_string(::getpid()) + ".log");
  const int rc = wait_child(spawn_self("JitChild.CompileIntoReadOnlyCache", env, log), out);
  fs::remove(log);
  if (rc == 77) GTEST_SKIP() << out;
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("error: foundry cpu: cannot write " + dir.string() + "/"), std::string::npos) << out;
  EXPECT_NE(out.find(": Permission denied"), std::string::npos) << out;
  fs::permissions(dir, fs::perms::owner_all);
}

TEST(JitCache, KeyCoversCompilerFlags) {
  temp_cache tc;
  auto o = tc.options();
  auto a = fc::compile(twice_kernel(), o);
  o.native = false;
  auto b = fc::compile(twice_kernel(), o);
  EXPECT_NE(a->key(), b->key());
  EXPECT_TRUE(run_twice(*b));
}

TEST(JitErrors, SyntaxErrorNamesLineStageAndText) {
  const std::string src =
      "ALWAYS_INLINE void broken_body(device float* y, uint i) {\n"  // 1  stage prologue
      "  float v = float(i);\n"                                      // 2  stage load
      "  v = v * 2.0f\n"                                             // 3  stage compute
      "  y[i] = v;\n"                                                // 4  stage store
      "}\n" +
      entry("broken", "broken_body((device float*)L->args[0], T->thread_position_in_grid.x)");
  fc::kernel_source k{"broken", src,
                      fc::stage_ranges({{1, 1, "prologue"}, {2, 2, "load"}, {3, 3, "compute"}, {4, 5, "store"}})};
  try {
    fc::compile(k);
    FAIL() << "compiled";
  } catch (const fc::compile_error& e) {
    // gcc reports the missing ';' at the end of line 3, clang at line 4's
    // start; both are the emitted source's own lines.
    EXPECT_TRUE(e.line() == 3 || e.line() == 4) << e.what();
    EXPECT_EQ(e.where().kernel, "broken");
    EXPECT_EQ(e.stage(), e.line() == 3 ? "compute" : "store");
    EXPECT_EQ(e.where().origin_line, 1);  // each range above is one stage's body
    const std::string what = e.what();
    EXPECT_NE(what.find("\nstage " + e.stage() + ", line 1: error: "), std::string::npos) << what;
    EXPECT_NE(what.find("generated source: broken.metal:" + std::to_string(e.line())), std::string::npos) << what;
    EXPECT_NE(what.find(e.line() == 3 ? "v = v * 2.0f" : "y[i] = v;"), std::string::npos) << what;
    EXPECT_EQ(what.find("stage stage"), std::string::npos) << what;
    EXPECT_NE(e.log().find("error"), std::string::npos);
  }
}

TEST(JitErrors, ErrorInsidePreludeMapsToKernelLine) {
  const std::string src =
      "ALWAYS_INLINE void mixed_body(device float* y, uint i) {\n"
      "  float4 v = float4(1.0f) + int4(1);  // mixed vector types\n"
      "  y[i] = v.x;\n"
      "}\n" +
      entry("mixed", "mixed_body((device float*)L->args[0], T->thread_position_in_grid.x)");
  try {
    fc::compile({"mixed", src, fc::stage_ranges({{1, 4, "body"}})});
    FAIL() << "compiled";
  } catch (const fc::compile_error& e) {
    EXPECT_EQ(e.line(), 2) << e.what();
    EXPECT_EQ(e.stage(), "body");
    EXPECT_EQ(e.where().origin_line, 2);
    EXPECT_NE(std::string(e.what()).find("different element types"), std::string::npos) << e.what();
  }
}

TEST(JitBatch, SourcesGetTheirOwnNamespaces) {
  // Both sources define `helper` and `Params`; only the entries are global.
  auto make = [](const std::string& name, const std::string& factor) {
    return fc::kernel_source{name,
                             "struct Params { float f; };\n"
                             "ALWAYS_INLINE float helper(float x) { return x * " + factor + "; }\n"
                             "ALWAYS_INLINE void body(device float* y, uint i) { y[i] = helper(float(i)); }\n" +
                                 entry(name, "body((device float*)L->args[0], T->thread_position_in_grid.x)"),
                             {}};
  };
  std::vector<fc::kernel_source> batch = {make("times3", "3.0f"), make("times5", "5.0f")};
  auto m = fc::prepare(batch);
  std::vector<float> y(32);
  run(*m, "times3__cpu", {y.data()}, {1, 1, 1}, {32, 1, 1});
  EXPECT_EQ(y[7], 21.0f);
  run(*m, "times5__cpu", {y.data()}, {1, 1, 1}, {32, 1, 1});
  EXPECT_EQ(y[7], 35.0f);

  std::vector<fc::kernel_source> dup = {make("same", "1.0f"), make("same", "2.0f")};
  EXPECT_THROW(fc::prepare(dup), std::invalid_argument);
  EXPECT_THROW(fc::compile({"bad name!", "", {}}), std::invalid_argument);
}

TEST(JitChecked, OutOfBoundsWriteIsDetected) {
  const std::string runtime = fc::asan_runtime_path();
  if (runtime.empty()) GTEST_SKIP() << "the JIT compiler has no ASan runtime";
  temp_cache tc;
  std::vector<std::string> env = {"FOUNDRY_TEST_CHILD=asan", "FOUNDRY_CACHE_DIR=" + tc.root.string(),
                                  "LD_PRELOAD=" + runtime, "ASAN_OPTIONS=detect_leaks=0"};
  if (const std::string symbolizer = fc::asan_symbolizer_path(); !symbolizer.empty())
    env.push_back("ASAN_SYMBOLIZER_PATH=" + symbolizer);
  std::string out;
  const int rc = wait_child(spawn_self("JitChild.OutOfBoundsWrite", env, tc.root / "asan.log"), out);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("AddressSanitizer"), std::string::npos) << out;
  EXPECT_NE(out.find("heap-buffer-overflow"), std::string::npos) << out;
  EXPECT_NE(out.find("oob.metal:2"), std::string::npos) << out;
  EXPECT_EQ(out.find("no error reported"), std::string::npos) << out;
}

TEST(JitChecked, WithoutRuntimeLoadThrows) {
  if (fc::asan_runtime_loaded()) GTEST_SKIP() << "this process has the ASan runtime";
  if (fc::asan_runtime_path().empty()) GTEST_SKIP() << "the JIT compiler has no ASan runtime";
  temp_cache tc;
  auto o = tc.options();
  o.checked = true;
  EXPECT_THROW(fc::compile(twice_kernel(), o), fc::load_error);
}

}  // namespace
