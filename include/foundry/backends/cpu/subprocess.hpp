#pragma once
/// @file subprocess.hpp
/// Runs a program and captures its combined stdout and stderr.
///
/// The JIT runs the host compiler with this. posix_spawnp rather than
/// popen/system: no shell (paths with spaces and quotes stay intact) and no
/// fork of a large process image.

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace foundry::cpu::detail {

struct process_result {
  int exit_code = -1;  ///< exit status, or 128 + signal number if killed
  std::string output;  ///< stdout and stderr, interleaved as written
};

/// Runs argv[0] (looked up in PATH) with `argv`, waits for it and returns
/// its exit code and output.
/// @throws std::runtime_error if the program cannot be started.
inline process_result run_process(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::runtime_error("foundry cpu: empty command");
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error(std::string("foundry cpu: pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::runtime_error("foundry cpu: cannot run '" + argv[0] + "': " + std::strerror(rc));
  }
  process_result r;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      r.output.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.exit_code = 128 + WTERMSIG(status);
  }
  return r;
}

}  // namespace foundry::cpu::detail
