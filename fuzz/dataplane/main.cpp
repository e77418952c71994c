// dogfish-fuzz-dataplane: random and mutated frames through the balancer and
// decap BPF objects (BPF_PROG_TEST_RUN), every frame checked against the
// invariants of fuzz/dataplane/checker.cpp. Needs root. fuzz/README.md.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <random>

#include "dogfish/base/log.hpp"
#include "dogfish/base/version.hpp"
#include "frame_view.hpp"
#include "fuzzer.hpp"

int main(int argc, char** argv) {
  using namespace dogfish::fuzz;
  CLI::App app{
      "dogfish-fuzz-dataplane: random and mutated frames through the balancer and decap BPF "
      "objects, every frame checked (needs root)"};
  app.set_version_flag("--version", dogfish::version_text("dogfish-fuzz-dataplane"));
  FuzzOptions opt;
  opt.seed = std::random_device{}();
  std::string frame_hex;
  app.add_option("--frames", opt.frames, "frames to run")->capture_default_str();
  app.add_option("--seed", opt.seed, "seed of the frame sequence (default: random, printed)");
  app.add_option("--progress", opt.progress_seconds, "seconds between progress lines; 0: none")
      ->capture_default_str();
  app.add_option("--frame", frame_hex, "check this one frame (hex) on fresh objects, then exit");
  CLI11_PARSE(app, argc, argv);

  dogfish::set_log_program("dogfish-fuzz-dataplane");
  dogfish::route_libbpf_log();
  try {
    if (!frame_hex.empty()) {
      auto frame = from_hex(frame_hex);
      if (!frame) {
        fmt::print(stderr, "dogfish-fuzz-dataplane: --frame '{}' is not hex bytes\n", frame_hex);
        return 2;
      }
      return check_one_frame(*frame);
    }
    return fuzz(opt);
  } catch (const std::exception& e) {
    fmt::print(stderr, "dogfish-fuzz-dataplane: {}\n", e.what());
    return 2;
  }
}
