#include "log_store.h"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

#include "sql_values.h"

namespace mortise::server {
namespace {

using sql::Args;
using sql::Int;
using sql::Text;
using sql::V;
uint64_t U64(const SqlRow& r, size_t i) { return r.at(i) ? std::stoull(*r[i]) : 0; }

// Rows per multi-row INSERT: 7 parameters each, under SQLite's 999.
constexpr size_t kInsertBatch = 100;

// The rows of one query, each read by `read`, under the repository's mutex.
template <typename Read>
auto SelectRows(SqlRepository& repo, std::string_view sql, const Args& args, Read read) {
  return repo.WithDriver([&](SqlDriver& db) {
    std::vector<decltype(read(std::declval<const SqlRow&>()))> out;
    for (const SqlRow& r : db.Query(sql, args)) out.push_back(read(r));
    return out;
  });
}

std::optional<LogDoor> ReadDoor(const std::vector<SqlRow>& rows) {
  if (rows.empty()) return std::nullopt;
  return LogDoor{Text(rows[0], 0), Text(rows[0], 1), Text(rows[0], 2), Text(rows[0], 3)};
}

}  // namespace

std::optional<LogDoor> LogStore::Tx::DoorByLockId(std::string_view lock_id_hex) {
  std::string lower(lock_id_hex);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return ReadDoor(db_.Query("SELECT id, org_id, lock_id, lock_public_key FROM doors WHERE lock_id = ?", {V(lower)}));
}

std::optional<LogDoor> LogStore::DoorByLockId(std::string_view lock_id_hex) {
  return repo_.WithDriver([&](SqlDriver& db) { return Tx(db).DoorByLockId(lock_id_hex); });
}

std::optional<LogDoor> LogStore::Door(std::string_view org_id, std::string_view door_id) {
  return repo_.WithDriver([&](SqlDriver& db) {
    return ReadDoor(db.Query("SELECT id, org_id, lock_id, lock_public_key FROM doors WHERE org_id = ? AND id = ?",
                             {V(org_id), V(door_id)}));
  });
}

LogChainState LogStore::Tx::State(std::string_view door_id) {
  LogChainState s;
  const auto rows = db_.Query(
      "SELECT last_seq, chain, signed_through, signed_at, pages FROM log_chains WHERE door_id = ?", {V(door_id)});
  if (rows.empty()) return s;
  s.last_seq = U64(rows[0], 0);
  s.chain = Text(rows[0], 1);
  s.signed_through = U64(rows[0], 2);
  s.signed_at = Int(rows[0], 3);
  s.pages = Int(rows[0], 4);
  return s;
}

LogChainState LogStore::State(std::string_view door_id) {
  return repo_.WithDriver([&](SqlDriver& db) { return Tx(db).State(door_id); });
}

std::map<uint64_t, std::pair<std::string, std::string>> LogStore::Tx::Chains(std::string_view door_id, uint64_t first,
                                                                             uint64_t last) {
  std::map<uint64_t, std::pair<std::string, std::string>> out;
  for (const SqlRow& r : db_.Query("SELECT seq, chain, status FROM log_records WHERE door_id = ? AND seq >= ? AND "
                                   "seq <= ?",
                                   {V(door_id), V(first), V(last)}))
    out[U64(r, 0)] = {Text(r, 1), Text(r, 2)};
  return out;
}

std::map<uint64_t, std::pair<std::string, std::string>> LogStore::Chains(std::string_view door_id, uint64_t first,
                                                                         uint64_t last) {
  return repo_.WithDriver([&](SqlDriver& db) { return Tx(db).Chains(door_id, first, last); });
}

uint64_t LogStore::Tx::LastGapBefore(std::string_view door_id, uint64_t seq, uint64_t joined) {
  const auto rows = db_.Query(
      "SELECT COALESCE(MAX(last_seq), 0) FROM log_gaps WHERE door_id = ? AND kind IN ('gap', 'break') AND "
      "last_seq < ? AND NOT (kind = 'break' AND first_seq = ? AND last_seq = ?)",
      {V(door_id), V(seq), V(joined), V(joined)});
  return rows.empty() ? uint64_t{0} : U64(rows[0], 0);
}

std::vector<LogRecordRow> LogStore::Tx::MarkedClaims(std::string_view door_id, uint64_t first, uint64_t last) {
  std::vector<LogRecordRow> out;
  if (first > last) return out;
  for (const SqlRow& m : db_.Query("SELECT first_seq FROM log_gaps WHERE door_id = ? AND kind = 'claim' AND "
                                   "first_seq >= ? AND first_seq <= ? ORDER BY first_seq",
                                   {V(door_id), V(first), V(last)})) {
    const uint64_t seq = U64(m, 0);
    const auto rows = db_.Query("SELECT record_type, status, summary FROM log_records WHERE door_id = ? AND seq = ?",
                                {V(door_id), V(seq)});
    if (!rows.empty()) out.push_back(LogRecordRow{seq, 0, Text(rows[0], 0), "", Text(rows[0], 1), Text(rows[0], 2)});
  }
  return out;
}

uint64_t LogStore::SignedThroughWithoutHoles(std::string_view door_id, uint64_t after, uint64_t through,
                                             int64_t max_records) {
  if (through <= after) return 0;
  return repo_.WithDriver([&](SqlDriver& db) -> uint64_t {
    const auto seqs = db.Query(
        "SELECT seq FROM log_records WHERE door_id = ? AND seq > ? AND seq <= ? AND status = 'signed' ORDER BY seq "
        "LIMIT ?",
        {V(door_id), V(after), V(through), V(max_records)});
    // Holes only a signed loss record of the lock explains: its declared
    // range (the summary's first and count), ending before the record.
    struct Range {
      uint64_t first, last;
    };
    std::vector<Range> declared;
    for (const SqlRow& r : db.Query("SELECT seq, summary FROM log_records WHERE door_id = ? AND seq > ? AND "
                                    "record_type = 'loss' AND status = 'signed' ORDER BY seq",
                                    {V(door_id), V(after)})) {
      const uint64_t seq = U64(r, 0);
      const auto s = nlohmann::json::parse(Text(r, 1), nullptr, false);
      if (!s.is_object() || !s.contains("loss") || !s["loss"].is_object()) continue;
      const auto& l = s["loss"];
      if (l.value("reason", std::string()) == "late_seal" || !l.contains("first") || !l["first"].is_number_unsigned() ||
          !l.contains("count") || !l["count"].is_number_unsigned())
        continue;
      const uint64_t first = l["first"].get<uint64_t>(), count = l["count"].get<uint64_t>();
      if (first == 0 || count == 0 || first >= seq || count > seq - first) continue;
      declared.push_back({first, first + count - 1});
    }
    uint64_t at = after + 1, good = 0;
    size_t i = 0;
    while (at <= through) {
      if (i < seqs.size() && U64(seqs[i], 0) == at) {
        good = at++;
        ++i;
        continue;
      }
      uint64_t skip_to = at;
      for (const Range& d : declared)
        if (d.first <= at && at <= d.last) skip_to = std::max(skip_to, d.last + 1);
      if (skip_to == at) break;  // a hole nothing the lock signed explains
      at = skip_to;
      while (i < seqs.size() && U64(seqs[i], 0) < at) ++i;
    }
    return good;
  });
}

int64_t LogStore::WritePage(const LogPageWrite& w) {
  return InTransaction([&](Tx& tx) { return tx.WritePage(w); });
}

int64_t LogStore::Tx::WritePage(const LogPageWrite& w) {
  SqlDriver& db = db_;
  const auto rows = db.Query("SELECT COALESCE(MAX(page_no), 0) FROM log_pages WHERE door_id = ?", {V(w.door_id)});
  const int64_t page_no = (rows.empty() ? 0 : Int(rows[0], 0)) + 1;
  const LogPageRow& p = w.page;
  db.Exec("INSERT INTO log_pages (door_id, page_no, received_at, from_seq, next_seq, reached_head, verdict, "
          "detail, new_records, items) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {V(w.door_id), V(page_no), V(p.received_at), V(p.from), V(p.next), V(int64_t{p.head ? 1 : 0}),
           V(p.verdict), V(p.detail), V(p.new_records), V(p.items)});
  if (p.verdict == "broken_chain" || p.verdict == "bad_signature") {
    dropped_refused_ += db.Exec(
        "DELETE FROM log_pages WHERE door_id = ? AND verdict IN ('broken_chain', 'bad_signature') AND page_no <= "
        "(SELECT page_no FROM log_pages WHERE door_id = ? AND verdict IN ('broken_chain', 'bad_signature') "
        "ORDER BY page_no DESC LIMIT 1 OFFSET ?)",
        {V(w.door_id), V(w.door_id), V(kMaxRefusedPages)});
  }
  for (uint64_t seq : w.replace)
    db.Exec("DELETE FROM log_records WHERE door_id = ? AND seq = ? AND status <> 'signed'", {V(w.door_id), V(seq)});
  for (size_t at = 0; at < w.records.size(); at += kInsertBatch) {
    const size_t end = std::min(w.records.size(), at + kInsertBatch);
    std::string sql = "INSERT INTO log_records (door_id, seq, page_no, record_type, chain, status, summary) VALUES ";
    Args args;
    args.reserve((end - at) * 7);
    for (size_t i = at; i < end; ++i) {
      const LogRecordRow& r = w.records[i];
      sql += i == at ? "(?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?)";
      args.insert(args.end(), {V(w.door_id), V(r.seq), V(page_no), V(r.type), V(r.chain), V(r.status),
                               V(r.summary)});
    }
    // A record already stored (another server took the same page) is
    // kept: never stored twice, never overwritten.
    sql += " ON CONFLICT (door_id, seq) DO NOTHING";
    db.Exec(sql, args);
  }
  if (w.joined_break != 0)
    db.Exec("DELETE FROM log_gaps WHERE door_id = ? AND kind = 'break' AND first_seq = ? AND last_seq = ?",
            {V(w.door_id), V(w.joined_break), V(w.joined_break)});
  WriteGaps(w.door_id, page_no, w.gaps, w.declared_gaps, w.filled_gaps);
  for (uint64_t seq : w.cleared_claims)
    db.Exec("DELETE FROM log_gaps WHERE door_id = ? AND kind = 'claim' AND first_seq = ?", {V(w.door_id), V(seq)});
  for (const auto& s : w.statuses) {
    if (s.first > s.last) continue;
    db.Exec("UPDATE log_records SET status = ? WHERE door_id = ? AND seq >= ? AND seq <= ? AND status = 'unsigned'",
            {V(s.status), V(w.door_id), V(s.first), V(s.last)});
  }
  if (w.chain) {
    const LogChainState& c = *w.chain;
    db.Exec("INSERT INTO log_chains (door_id, last_seq, chain, signed_through, signed_at, pages) "
            "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (door_id) DO UPDATE SET last_seq = excluded.last_seq, "
            "chain = excluded.chain, signed_through = excluded.signed_through, signed_at = excluded.signed_at, "
            "pages = log_chains.pages + 1",
            {V(w.door_id), V(c.last_seq), V(c.chain), V(c.signed_through), V(c.signed_at)});
  } else {
    db.Exec("INSERT INTO log_chains (door_id, last_seq, chain, signed_through, signed_at, pages) "
            "VALUES (?, 0, '', 0, 0, 1) ON CONFLICT (door_id) DO UPDATE SET pages = log_chains.pages + 1",
            {V(w.door_id)});
  }
  return page_no;
}

void LogStore::Tx::WriteGaps(std::string_view door_id, int64_t page_no, const std::vector<LogGapRow>& gaps,
                             const std::vector<uint64_t>& declared_gaps, const std::vector<uint64_t>& filled_gaps) {
  for (uint64_t first : declared_gaps) {
    db_.Exec("INSERT INTO log_gaps (door_id, kind, first_seq, last_seq, reason, page_no) SELECT door_id, 'break', "
             "first_seq, last_seq, 'declared lost: chain not verified across', page_no FROM log_gaps WHERE door_id = ? "
             "AND kind = 'gap' AND first_seq = ? ON CONFLICT (door_id, kind, first_seq) DO NOTHING",
             {V(door_id), V(first)});
    db_.Exec("DELETE FROM log_gaps WHERE door_id = ? AND kind = 'gap' AND first_seq = ?", {V(door_id), V(first)});
  }
  for (uint64_t first : filled_gaps)
    db_.Exec("DELETE FROM log_gaps WHERE door_id = ? AND kind = 'gap' AND first_seq = ?", {V(door_id), V(first)});
  for (const LogGapRow& g : gaps)
    db_.Exec("INSERT INTO log_gaps (door_id, kind, first_seq, last_seq, reason, page_no) VALUES (?, ?, ?, ?, ?, ?) "
             "ON CONFLICT (door_id, kind, first_seq) DO NOTHING",
             {V(door_id), V(g.kind), V(g.first), V(g.last), V(g.reason), V(page_no)});
}

std::vector<LogRecordRow> LogStore::Records(std::string_view door_id, uint64_t after_seq, int limit) {
  return SelectRows(repo_,
                    "SELECT seq, page_no, record_type, chain, status, summary FROM log_records WHERE door_id = ? AND "
                    "seq > ? ORDER BY seq LIMIT ?",
                    {V(door_id), V(after_seq), V(int64_t{limit})}, [](const SqlRow& r) {
                      return LogRecordRow{U64(r, 0), Int(r, 1), Text(r, 2), Text(r, 3), Text(r, 4), Text(r, 5)};
                    });
}

std::vector<LogGapRow> LogStore::Tx::Gaps(std::string_view door_id, uint64_t first, uint64_t last) {
  std::vector<LogGapRow> out;
  for (const SqlRow& r : db_.Query("SELECT kind, first_seq, last_seq, reason, page_no FROM log_gaps WHERE door_id = ? "
                                   "AND last_seq >= ? AND first_seq <= ? ORDER BY first_seq, kind",
                                   {V(door_id), V(first), V(last)}))
    out.push_back(LogGapRow{Text(r, 0), U64(r, 1), U64(r, 2), Text(r, 3), Int(r, 4)});
  return out;
}

std::vector<LogGapRow> LogStore::Gaps(std::string_view door_id, uint64_t first, uint64_t last) {
  std::vector<LogGapRow> out = repo_.WithDriver([&](SqlDriver& db) { return Tx(db).Gaps(door_id, first, last); });
  std::erase_if(out, [](const LogGapRow& g) { return g.kind == "break" || g.kind == "claim"; });
  return out;
}

std::vector<LogPageRow> LogStore::Pages(std::string_view door_id, int64_t after_page, int limit) {
  return SelectRows(repo_,
                    "SELECT page_no, received_at, from_seq, next_seq, reached_head, verdict, detail, new_records, "
                    "items FROM log_pages WHERE door_id = ? AND page_no > ? ORDER BY page_no LIMIT ?",
                    {V(door_id), V(after_page), V(int64_t{limit})}, [](const SqlRow& r) {
                      return LogPageRow{Int(r, 0), Int(r, 1), U64(r, 2), U64(r, 3), Int(r, 4) != 0, Text(r, 5),
                                        Text(r, 6), Int(r, 7), Text(r, 8)};
                    });
}

}  // namespace mortise::server
