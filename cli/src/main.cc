// mortise: the owner's, admin's and guest's CLI. Everything is in
// mortise_cli_lib; see app.h.
#include "app.h"

int main(int argc, char** argv) { return mortise::cli::Run(argc, argv); }
