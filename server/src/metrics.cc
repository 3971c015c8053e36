#include "metrics.h"

#include <cstdio>
#include <sstream>

namespace mortise::server {
namespace {

std::string Label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

// HTTP allows any token as a method, so a label per method string would let
// an anonymous caller add series (and memory) without bound: only the methods
// the server knows get their own label.
const std::string& MethodLabel(const std::string& method) {
  static const std::vector<std::string> kKnown = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
  static const std::string kOther = "other";
  for (const auto& m : kKnown) {
    if (m == method) return m;
  }
  return kOther;
}

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

}  // namespace

const std::vector<double>& Metrics::Buckets() {
  static const std::vector<double> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,   0.25,   0.5,   1,    2.5,   5};
  return kBuckets;
}

void Metrics::ObserveRequest(const std::string& route, const std::string& method, int status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{route, MethodLabel(method), status}];
  auto& h = latency_[route];
  if (h.counts.empty()) h.counts.assign(Buckets().size(), 0);
  for (size_t i = 0; i < Buckets().size(); ++i) {
    if (seconds <= Buckets()[i]) {
      ++h.counts[i];
      break;
    }
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::AddGauge(std::string name, std::string help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  gauges_.push_back({std::move(name), std::move(help), std::move(read)});
}

void Metrics::AddCounter(std::string name, std::string help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  gauges_.push_back({std::move(name), std::move(help), std::move(read), "counter"});
}

void Metrics::CountDbError() {
  std::lock_guard lock(mu_);
  ++db_errors_;
}

std::string Metrics::Render() const {
  std::lock_guard lock(mu_);
  std::ostringstream o;
  o << "# HELP mortise_server_http_requests_total HTTP requests answered, by route pattern, method and status.\n"
       "# TYPE mortise_server_http_requests_total counter\n";
  for (const auto& [k, n] : requests_) {
    const auto& [route, method, status] = k;
    o << "mortise_server_http_requests_total{route=\"" << Label(route) << "\",method=\"" << Label(method)
      << "\",code=\"" << status << "\"} " << n << "\n";
  }
  o << "# HELP mortise_server_http_request_duration_seconds Time from a complete request to its response.\n"
       "# TYPE mortise_server_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < Buckets().size(); ++i) {
      cumulative += h.counts[i];
      o << "mortise_server_http_request_duration_seconds_bucket{route=\"" << Label(route) << "\",le=\""
        << Number(Buckets()[i]) << "\"} " << cumulative << "\n";
    }
    o << "mortise_server_http_request_duration_seconds_bucket{route=\"" << Label(route) << "\",le=\"+Inf\"} "
      << h.count << "\n";
    o << "mortise_server_http_request_duration_seconds_sum{route=\"" << Label(route) << "\"} " << Number(h.sum)
      << "\n";
    o << "mortise_server_http_request_duration_seconds_count{route=\"" << Label(route) << "\"} " << h.count << "\n";
  }
  o << "# HELP mortise_server_db_errors_total Database calls that failed (answered 503).\n"
       "# TYPE mortise_server_db_errors_total counter\n"
       "mortise_server_db_errors_total "
    << db_errors_ << "\n";
  for (const auto& g : gauges_) {
    o << "# HELP " << g.name << " " << g.help << "\n# TYPE " << g.name << " " << g.type << "\n"
      << g.name << " " << Number(g.read()) << "\n";
  }
  return o.str();
}

}  // namespace mortise::server
