#include "migrations.h"

namespace mortise::server {
namespace embedded {
extern const std::string_view kMigration0001;
extern const std::string_view kMigration0002;
extern const std::string_view kMigration0003;
extern const std::string_view kMigration0004;
extern const std::string_view kMigration0005;
extern const std::string_view kMigration0006;
extern const std::string_view kMigration0007;
extern const std::string_view kMigration0009;
extern const std::string_view kMigration0010;
extern const std::string_view kMigration0011;
extern const std::string_view kMigration0012;
}  // namespace embedded

std::span<const Migration> Migrations() {
  static const Migration kAll[] = {
      {1, "accounts_sessions", embedded::kMigration0001},
      {2, "second_factor_api_keys", embedded::kMigration0002},
      {3, "organisations", embedded::kMigration0003},
      {4, "audit", embedded::kMigration0004},
      {5, "access_groups", embedded::kMigration0005},
      {6, "door_state", embedded::kMigration0006},
      {7, "logs", embedded::kMigration0007},
      // 8 is srvplatform's if it needs one; numbers may have gaps.
      {9, "log_custody", embedded::kMigration0009},
      {10, "duties", embedded::kMigration0010},
      {11, "uplink_certificates", embedded::kMigration0011},
      {12, "update_receipts", embedded::kMigration0012},
  };
  return kAll;
}

}  // namespace mortise::server
