#include "passphrase.h"

#include <cctype>

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "error.h"

namespace mortise::cli {
namespace {

// State for restoring the terminal if the user presses Ctrl-C at a prompt
// with echo off.
int g_tty_fd = -1;
struct termios g_saved;
struct sigaction g_old_int;
struct sigaction g_old_term;

void RestoreAndReraise(int sig) {
  if (g_tty_fd >= 0) {
    ::tcsetattr(g_tty_fd, TCSAFLUSH, &g_saved);
    static const char kNewline = '\n';
    [[maybe_unused]] ssize_t ignored = ::write(g_tty_fd, &kNewline, 1);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

class TtyPrompt {
 public:
  // `prompt` says what is asked ("Keyring passphrase: ", "Password for
  // x@y: "): without a terminal, the refusal names that, not always the
  // keyring's passphrase.
  TtyPrompt(const std::string& path, std::string_view prompt) {
    fd_ = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd_ < 0) {
      std::string what(prompt);
      while (!what.empty() && (what.back() == ' ' || what.back() == ':')) what.pop_back();
      if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
      if (what.find("passphrase") != std::string::npos)
        throw Error(ExitCode::kKeyring, "no passphrase given and no terminal to ask for one",
                    "Give it with --passphrase-fd N or the MORTISE_PASSPHRASE environment variable.");
      // The server's account (mortise server login): email, password, code.
      throw Error(ExitCode::kUsage, "no " + what + " given and no terminal to ask for it",
                  "Run the command on a terminal, or give it as the command's --help says (mortise server login: "
                  "--email, MORTISE_SERVER_PASSWORD or --password-fd N, --totp).");
    }
    echo_off_ = ::tcgetattr(fd_, &saved_) == 0;
    if (echo_off_) {
      struct termios quiet = saved_;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      quiet.c_lflag |= ECHONL;
      g_tty_fd = fd_;
      g_saved = saved_;
      struct sigaction sa {};
      sa.sa_handler = RestoreAndReraise;
      sigemptyset(&sa.sa_mask);
      ::sigaction(SIGINT, &sa, &g_old_int);
      ::sigaction(SIGTERM, &sa, &g_old_term);
      ::tcsetattr(fd_, TCSAFLUSH, &quiet);
    }
  }
  ~TtyPrompt() {
    if (echo_off_) {
      ::tcsetattr(fd_, TCSAFLUSH, &saved_);
      ::sigaction(SIGINT, &g_old_int, nullptr);
      ::sigaction(SIGTERM, &g_old_term, nullptr);
      g_tty_fd = -1;
    }
    ::close(fd_);
  }
  SecretString Ask(std::string_view prompt) {
    std::string p(prompt);
    [[maybe_unused]] ssize_t ignored = ::write(fd_, p.data(), p.size());
    return ReadLineFromFd(fd_);
  }

 private:
  int fd_ = -1;
  bool echo_off_ = false;
  struct termios saved_ {};
};

void CheckLength(const SecretString& s) {
  if (s.size() > kMaxPassphraseLength)
    throw Error(ExitCode::kKeyring, "the passphrase is longer than 1024 bytes", "Use a shorter passphrase.");
}

}  // namespace

SecretString ReadLineFromFd(int fd) {
  SecretString line;
  std::string& s = line.mutable_str();
  s.reserve(kMaxPassphraseLength + 2);  // no reallocation: no stray copies of the secret
  for (;;) {
    char c;
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ExitCode::kKeyring,
                  "cannot read the passphrase from descriptor " + std::to_string(fd) + " (" + std::strerror(errno) + ")",
                  "Check the number given to --passphrase-fd.");
    }
    if (n == 0 || c == '\n') break;
    if (s.size() > kMaxPassphraseLength)
      throw Error(ExitCode::kKeyring, "the passphrase is longer than 1024 bytes", "Use a shorter passphrase.");
    s.push_back(c);
  }
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return line;
}

SecretString ReadPassphrase(const PassphraseSource& source, std::string_view prompt, bool confirm) {
  SecretString pass;
  if (source.fd >= 0) {
    pass = ReadLineFromFd(source.fd);
  } else if (const char* env = source.use_env ? std::getenv("MORTISE_PASSPHRASE") : nullptr; env != nullptr) {
    pass = SecretString(std::string(env));
  } else {
    TtyPrompt tty(source.tty, prompt);
    pass = tty.Ask(prompt);
    if (confirm) {
      if (pass.empty()) throw Error(ExitCode::kUsage, "the passphrase is empty", "Choose a passphrase.");
      CheckLength(pass);
      SecretString again = tty.Ask("Repeat the passphrase: ");
      if (again.view() != pass.view())
        throw Error(ExitCode::kKeyring, "the two passphrases differ", "Run the command again and type the same passphrase twice.");
    }
  }
  CheckLength(pass);
  if (confirm && pass.empty()) throw Error(ExitCode::kUsage, "the passphrase is empty", "Choose a passphrase.");
  return pass;
}

}  // namespace mortise::cli
