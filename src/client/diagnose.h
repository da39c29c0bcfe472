/* diagnose.h: `ngrnotok diagnose [TARGET]`: connects to the gateway as `ngrnotok http` does,
 * binds a temporary tunnel to TARGET and one to the built-in responder (diagnose_responder.h),
 * and measures side by side the control connection (PING round trips, a body pulled through
 * the tunnel), the local service directly and the whole public path; then prints the report
 * (diagnose_report.h). */
#ifndef NGR_DIAGNOSE_H
#define NGR_DIAGNOSE_H

#include "client.h"

/* Runs the command with cl->opt (cli_parse's, command CLI_CMD_DIAGNOSE). Returns the exit
 * code: 0 measured (the report on stdout), 1 the gateway or the local service cannot be
 * reached, or the run did not finish (the reason on stderr), 2 a bad setting. */
int diagnose_run(struct client *cl);

#endif
