// The model through the API (organisations, sites, doors, people,
// invitations) and the audit trail: every change recorded with who, what,
// when and from where, searched and paged, exported as RFC 4180 CSV that no
// spreadsheet runs as a formula, purged after the retention period.
#include <gtest/gtest.h>

#include "csv.h"
#include "org_world.h"

namespace mortise::server {
namespace {

using nlohmann::json;
using testing::Caller;

class OrgApiTest : public testing::OrgWorldFixture {};

TEST_P(OrgApiTest, AHomeIsAOneSiteOrganisationOwnedByItsCreator) {
  const Caller ana = NewAccount("ana");
  const auto created = Call("POST", "/api/v1/orgs", {{"name", "Flat 3"}}, ana.headers);
  ASSERT_EQ(created.status, 201) << created.body;
  const auto org = created.Json()["organisation"];
  EXPECT_EQ(org["kind"], "home");
  EXPECT_EQ(org["role"], "owner");
  EXPECT_TRUE(org["id"].get<std::string>().starts_with("org_"));
  const std::string base = "/api/v1/orgs/" + org["id"].get<std::string>();
  const auto sites = Call("GET", base + "/sites", nullptr, ana.headers).Json();
  ASSERT_EQ(sites["items"].size(), 1u);
  EXPECT_EQ(sites["items"][0]["name"], "Flat 3");
  EXPECT_EQ(Call("POST", base + "/sites", {{"name", "Garage"}}, ana.headers).ErrorCode(), "home_has_one_site");
  const auto people = Call("GET", base + "/people", nullptr, ana.headers).Json();
  ASSERT_EQ(people["items"].size(), 1u);
  EXPECT_EQ(people["items"][0]["email"], ana.email);
  EXPECT_EQ(people["items"][0]["role"], "owner");
  // An organisation has as many sites as it needs; a site with doors stays.
  const std::string office =
      Call("POST", "/api/v1/orgs", {{"name", "Office"}, {"kind", "organisation"}}, ana.headers).Json()["organisation"]["id"];
  EXPECT_EQ(Call("POST", "/api/v1/orgs/" + office + "/sites", {{"name", "Annex"}}, ana.headers).status, 201);
  EXPECT_EQ(Call("POST", "/api/v1/orgs", {{"name", ""}}, ana.headers).ErrorCode(), "invalid_name");
  EXPECT_EQ(Call("POST", "/api/v1/orgs", {{"name", "X"}, {"kind", "castle"}}, ana.headers).ErrorCode(), "invalid_kind");
}

TEST_P(OrgApiTest, ASiteWithDoorsIsNotDeleted) {
  World w = NewWorld("account:read");
  const auto r = Call("DELETE", "/api/v1/orgs/" + w.org + "/sites/" + w.site_full, nullptr, w.callers["owner"].headers);
  EXPECT_EQ(r.ErrorCode(), "site_not_empty");
  EXPECT_TRUE(repo_->Site(w.org, w.site_full));
}

TEST_P(OrgApiTest, ListsPageWithCursors) {
  World w = NewWorld("account:read");
  for (int i = 0; i < 4; ++i) {
    clock_.Advance(1);
    NewDoor(w.org, w.site_full);
  }
  const Caller& owner = w.callers["owner"];
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    const auto page = Call("GET", "/api/v1/orgs/" + w.org + "/doors?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor),
                           nullptr, owner.headers)
                          .Json();
    for (const auto& d : page["items"]) seen.insert(d["id"]);
    cursor = page["next_cursor"].is_null() ? "" : page["next_cursor"].get<std::string>();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(Call("GET", "/api/v1/orgs/" + w.org + "/people?limit=0", nullptr, owner.headers).ErrorCode(),
            "invalid_limit");
}

// Every change appends who (account, email, credential), what (action,
// object, detail), when (the server's clock) and from where (address, user
// agent), in the change's own transaction.
TEST_P(OrgApiTest, EveryChangeIsInTheAuditTrailWithWhoWhatWhenAndWhere) {
  World w = NewWorld("account:read");
  const Caller& owner = w.callers["owner"];
  std::vector<std::string> h = owner.headers;
  h.push_back("User-Agent: mortise-test/1.0");
  const std::string base = "/api/v1/orgs/" + w.org;
  clock_.Advance(12345);
  const int64_t when = clock_.NowMs();
  ASSERT_EQ(Call("POST", base + "/sites", {{"name", "Annex"}}, h).status, 201);
  ASSERT_EQ(Call("PATCH", base + "/people/" + w.target, {{"role", "installer"}}, h).status, 200);
  ASSERT_EQ(Call("POST", base + "/invitations", {{"role", "guest"}}, h).status, 201);
  ASSERT_EQ(Call("DELETE", base + "/doors/" + w.door, nullptr, h).status, 204);
  const Caller key = NewKey(owner, {"orgs:write"});
  ASSERT_EQ(Call("DELETE", base + "/people/" + w.target, nullptr, key.headers).status, 204);
  // A refused change records nothing.
  EXPECT_EQ(Call("POST", base + "/sites", {{"name", "Nope"}}, w.callers["guest"].headers).status, 403);

  const auto page = Call("GET", base + "/audit", nullptr, h).Json();
  std::vector<std::string> actions;
  for (const auto& e : page["items"]) {
    if (e["actor"]["account_id"] == owner.account_id) actions.push_back(e["action"]);
  }
  const std::vector<std::string> expected = {"person.remove", "door.delete", "invitation.create", "person.role",
                                             "site.create"};
  EXPECT_EQ(actions, expected);  // newest first
  const auto& role = page["items"][3];
  EXPECT_EQ(role["action"], "person.role");
  EXPECT_EQ(role["at"], when);
  EXPECT_EQ(role["actor"]["email"], owner.email);
  EXPECT_EQ(role["actor"]["credential"], "session");
  EXPECT_EQ(role["object"]["type"], "person");
  EXPECT_EQ(role["object"]["id"], w.target);
  EXPECT_EQ(role["detail"]["from"], "member");
  EXPECT_EQ(role["detail"]["to"], "installer");
  EXPECT_EQ(role["address"], "127.0.0.1");
  EXPECT_EQ(role["user_agent"], "mortise-test/1.0");
  EXPECT_TRUE(page["items"][0]["actor"]["credential"].get<std::string>().starts_with("api_key:key_"));
  // An account's own changes are its own trail.
  ASSERT_EQ(Call("POST", "/api/v1/me/api-keys", {{"name", "n"}, {"scopes", {"orgs:read"}}}, h).status, 201);
  const auto mine = Call("GET", "/api/v1/me/audit", nullptr, h).Json();
  ASSERT_GE(mine["items"].size(), 1u);
  EXPECT_EQ(mine["items"][0]["action"], "api_key.create");
  EXPECT_TRUE(mine["items"][0]["org_id"].is_null());
  const auto theirs = Call("GET", "/api/v1/me/audit", nullptr, w.callers["guest"].headers).Json();
  EXPECT_TRUE(theirs["items"].empty());
}

TEST_P(OrgApiTest, TheAuditTrailIsSearchedByActorActionObjectAndTimeAndPaged) {
  World w = NewWorld("account:read");
  const Caller& owner = w.callers["owner"];
  const Caller& admin = w.callers["admin"];
  const std::string base = "/api/v1/orgs/" + w.org;
  const int64_t t0 = clock_.NowMs();
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(1000);
    ASSERT_EQ(Call("POST", base + "/sites", {{"name", "Owner " + std::to_string(i)}}, owner.headers).status, 201);
    clock_.Advance(1000);
    ASSERT_EQ(Call("POST", base + "/sites", {{"name", "Admin " + std::to_string(i)}}, admin.headers).status, 201);
  }
  auto get = [&](const std::string& q) { return Call("GET", base + "/audit?" + q, nullptr, owner.headers).Json(); };
  EXPECT_EQ(get("actor=" + admin.account_id)["items"].size(), 3u);
  EXPECT_EQ(get("action=site.create&actor=" + owner.account_id)["items"].size(), 3u);
  EXPECT_EQ(get("from=" + std::to_string(t0 + 1500) + "&to=" + std::to_string(t0 + 4500))["items"].size(), 3u);
  const std::string one = get("actor=" + admin.account_id)["items"][0]["object"]["id"];
  EXPECT_EQ(get("object=" + one)["items"].size(), 1u);
  // Pages of 4, newest first, no event twice.
  std::vector<int64_t> seqs;
  std::string cursor;
  do {
    const auto page = get("action=site.create&limit=4" + (cursor.empty() ? "" : "&cursor=" + cursor));
    for (const auto& e : page["items"]) seqs.push_back(e["seq"]);
    cursor = page["next_cursor"].is_null() ? "" : page["next_cursor"].get<std::string>();
  } while (!cursor.empty());
  ASSERT_EQ(seqs.size(), 6u);
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_GT(seqs[i - 1], seqs[i]);
  EXPECT_EQ(Call("GET", base + "/audit?from=yesterday", nullptr, owner.headers).ErrorCode(), "invalid_query");
}

TEST_P(OrgApiTest, PeopleAreImportedFromCsvAsInvitationsAllOrNone) {
  World w = NewWorld("account:read");
  const Caller& admin = w.callers["admin"];
  const std::string url = "/api/v1/orgs/" + w.org + "/invitations/import";
  const auto invitations = [&] { return repo_->Invitations(w.org, "", 100).size(); };
  const size_t before = invitations();
  // Bad rows refuse the whole import and name their line.
  const auto bad = Call("POST", url, {{"csv", "email,role\r\nok@example.org,guest\r\nnot-an-email,member\r\n"}},
                        admin.headers);
  EXPECT_EQ(bad.ErrorCode(), "invalid_csv");
  EXPECT_NE(bad.body.find("Line 3"), std::string::npos) << bad.body;
  EXPECT_EQ(Call("POST", url, {{"csv", "email,role\nok@example.org,king\n"}}, admin.headers).ErrorCode(), "invalid_csv");
  // A note too long is refused, never cut (a cut could split a character).
  std::string long_note;
  for (int i = 0; i < 150; ++i) long_note += "\xc3\xa9";
  EXPECT_EQ(Call("POST", url, {{"csv", "email,role,note\nok@example.org,member," + long_note + "\n"}}, admin.headers)
                .ErrorCode(),
            "invalid_csv");
  EXPECT_EQ(Call("POST", url, {{"csv", "mail,role\nok@example.org,guest\n"}}, admin.headers).ErrorCode(),
            "invalid_csv");
  EXPECT_EQ(Call("POST", url, {{"csv", "email,role\nA@example.org,guest\na@example.org,member\n"}}, admin.headers)
                .ErrorCode(),
            "invalid_csv");
  EXPECT_EQ(Call("POST", url, {{"csv", "email,role\n\"open@example.org,guest\n"}}, admin.headers).ErrorCode(),
            "invalid_csv");
  // An admin cannot invite admins, by CSV either.
  EXPECT_EQ(Call("POST", url, {{"csv", "email,role\nok@example.org,guest\nboss@example.org,admin\n"}}, admin.headers)
                .ErrorCode(),
            "forbidden_role");
  EXPECT_EQ(invitations(), before);
  // A good file: quoted fields, a column order of its own, CRLF.
  const auto ok = Call("POST", url,
                       {{"csv", "role,note,email\r\nguest,\"Flat 2, \"\"the\"\" cleaner\",Cleo@Example.org\r\n"
                                "installer,,ivan@example.org\r\n"}},
                       admin.headers);
  ASSERT_EQ(ok.status, 201) << ok.body;
  const auto items = ok.Json()["invitations"];
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0]["email"], "cleo@example.org");
  EXPECT_EQ(items[0]["invitation"]["role"], "guest");
  EXPECT_EQ(items[0]["invitation"]["note"], "cleo@example.org Flat 2, \"the\" cleaner");
  EXPECT_EQ(items[1]["invitation"]["role"], "installer");
  EXPECT_EQ(invitations(), before + 2);
  // Each token works once, like any invitation.
  const Caller cleo = NewAccount("cleo");
  EXPECT_EQ(Call("POST", "/api/v1/invitations/accept", {{"token", items[0]["token"]}}, cleo.headers).Json()["role"],
            "guest");
  const auto trail = Call("GET", "/api/v1/orgs/" + w.org + "/audit?action=invitation.create&actor=" + admin.account_id,
                          nullptr, admin.headers)
                         .Json();
  EXPECT_EQ(trail["items"].size(), 2u);
  EXPECT_EQ(trail["items"][0]["detail"]["import"], true);
}

TEST(Csv, ParsesRfc4180) {
  int line = 0;
  auto r = ParseCsv("a,b\r\n\"x,\"\"y\"\"\",\r\n\n\"multi\nline\",z", line);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[1], (std::vector<std::string>{"x,\"y\"", ""}));
  EXPECT_EQ((*r)[2], (std::vector<std::string>{"multi\nline", "z"}));
  EXPECT_FALSE(ParseCsv("a\n\"open", line));
  EXPECT_EQ(line, 2);
  EXPECT_FALSE(ParseCsv("\"a\"b,c", line));
  EXPECT_EQ(line, 1);
}

TEST(AuditCsv, IsRfc4180AndNoCellStartsAFormula) {
  EXPECT_EQ(CsvCell("plain"), "plain");
  EXPECT_EQ(CsvCell("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvCell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvCell("two\r\nlines"), "\"two\r\nlines\"");
  EXPECT_EQ(CsvCell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
  EXPECT_EQ(CsvCell("+1"), "'+1");
  EXPECT_EQ(CsvCell("-2+3"), "'-2+3");
  EXPECT_EQ(CsvCell("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(CsvCell("\tcmd"), "'\tcmd");
  AuditEvent e;
  e.seq = 7;
  e.at = 0;
  e.org_id = "org_1";
  e.actor_email = "=cmd|' /C calc'!A0";
  e.action = "site.create";
  e.detail = R"({"name":"a,b"})";
  const std::string csv = AuditTrail::Csv({e});
  EXPECT_TRUE(csv.starts_with("seq,time,organisation,"));
  EXPECT_NE(csv.find("\r\n7,1970-01-01T00:00:00.000Z,org_1,,'=cmd|' /C calc'!A0,,site.create,"), std::string::npos);
  EXPECT_NE(csv.find("\"{\"\"name\"\":\"\"a,b\"\"}\"\r\n"), std::string::npos);
}

TEST_P(OrgApiTest, TheAuditTrailExportsAsCsv) {
  World w = NewWorld("account:read");
  const Caller& owner = w.callers["owner"];
  const std::string base = "/api/v1/orgs/" + w.org;
  ASSERT_EQ(Call("POST", base + "/sites", {{"name", "=1+1, \"quoted\""}}, owner.headers).status, 201);
  const auto r = Call("GET", base + "/audit.csv?action=site.create", nullptr, owner.headers);
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.Header("content-type").value_or("").starts_with("text/csv"));
  EXPECT_NE(r.Header("content-disposition").value_or("").find("attachment"), std::string::npos);
  EXPECT_NE(r.body.find("site.create"), std::string::npos);
  EXPECT_NE(r.body.find("\"{\"\"name\"\":\"\"=1+1, \\\"\"quoted\\\"\"\"\"}\""), std::string::npos) << r.body;
  // Two lines: the header and one event.
  EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 2);
}

class AuditRetentionTest : public testing::OrgWorldFixture {
 protected:
  void SetUp() override {
    settings_.audit.retention_days = 30;
    OrgWorldFixture::SetUp();
  }
};

TEST_P(AuditRetentionTest, EventsOlderThanTheRetentionAreAppendedNoMoreAndPurged) {
  World w = NewWorld("account:read");
  const std::string base = "/api/v1/orgs/" + w.org;
  ASSERT_EQ(Call("POST", base + "/sites", {{"name", "Old"}}, w.callers["owner"].headers).status, 201);
  const auto count = [&] { return repo_->SearchAudit([&] {
                                          AuditQuery q;
                                          q.org_id = w.org;
                                          q.action = "site.create";
                                          return q;
                                        }())
                                 .size(); };
  EXPECT_EQ(count(), 1u);
  // Sessions do not last a month: a fresh admin acts later.
  const auto later_admin = [&] {
    Caller c = NewAccount("admin");
    AddMember(w.org, c.account_id, "admin");
    return c;
  };
  clock_.Advance(29LL * 24 * 3600 * 1000);
  ASSERT_EQ(Call("GET", "/healthz", nullptr, later_admin().headers).status, 200);
  EXPECT_EQ(count(), 1u);  // 29 days: kept
  clock_.Advance(2LL * 24 * 3600 * 1000);
  ASSERT_EQ(Call("POST", base + "/sites", {{"name", "New"}}, later_admin().headers).status, 201);
  EXPECT_EQ(count(), 1u);  // 31 days: the old one purged (before the request), the new one kept
}

INSTANTIATE_TEST_SUITE_P(Backend, OrgApiTest, ::testing::Values(testing::TestBackend()));
INSTANTIATE_TEST_SUITE_P(Backend, AuditRetentionTest, ::testing::Values(testing::TestBackend()));

}  // namespace
}  // namespace mortise::server
