// TestBackend() for one test program: MORTISE_SERVER_TEST_BACKEND is set by
// the library this file is built into (server/CMakeLists.txt:
// mortise_server_testing_sqlite, mortise_server_testing_postgresql).
#include "postgres_fixture.h"

namespace mortise::server::testing {

const char* TestBackend() { return MORTISE_SERVER_TEST_BACKEND; }

}  // namespace mortise::server::testing
