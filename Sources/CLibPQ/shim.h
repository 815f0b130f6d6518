// Exists only so Swift can import libpq; the include path comes from pkg-config (libpq.pc).
#include <libpq-fe.h>
