// Prometheus text exposition (format 0.0.4) of the server's counters:
// requests per route/method/status, a latency histogram per route, and
// gauges read at scrape time (connections, WebSocket clients, the DB pool).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace mortise::server {

class Metrics {
 public:
  // `route` is the route's pattern ("/api/v1/me"), or "unmatched" (never the
  // request's path); `method` is labelled only if it is one of GET, POST, PUT,
  // PATCH, DELETE, HEAD, OPTIONS, else "other"; `status` is a code the server
  // chose. So the number of series is bounded by the routes, whatever callers send.
  void ObserveRequest(const std::string& route, const std::string& method, int status, double seconds);
  void AddGauge(std::string name, std::string help, std::function<double()> read);
  // A counter read at scrape time (rendered with TYPE counter).
  void AddCounter(std::string name, std::string help, std::function<double()> read);
  void CountDbError();
  std::string Render() const;

  static const std::vector<double>& Buckets();

 private:
  struct Histogram {
    std::vector<uint64_t> counts;  // per bucket (not cumulative)
    uint64_t count = 0;
    double sum = 0;
  };
  struct Gauge {
    std::string name, help;
    std::function<double()> read;
    const char* type = "gauge";
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::vector<Gauge> gauges_;
  uint64_t db_errors_ = 0;
};

}  // namespace mortise::server
