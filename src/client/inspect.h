/* inspect.h: the local inspector: a web page and ngrok's agent API (/api/tunnels,
 * /api/requests/http) on 127.0.0.1:4040 by default, served by libmicrohttpd on the client's
 * loop. It keeps the last exchanges (inspect_ring.h) that replay.c captures (capture.h) while
 * it runs, and replays one against its local service on request, as a new exchange. It serves
 * only its own user: Host must name its address, a token when one is set, and a JSON body for
 * what changes state (inspect_access.h). */
#ifndef NGR_INSPECT_H
#define NGR_INSPECT_H

#include "client.h"
#include "err.h"

struct inspect;

/* Starts the inspector of cl (borrowed; outlives it) as cl->opt.inspect says, subscribed to
 * cl->exchanges, and turns capture on (cl->capture). Returns it, or NULL: with *fatal set and
 * the reason in err when the address given cannot be served; with *fatal 0 when the default
 * ports were all taken (the client runs without it; err says so). */
struct inspect *inspect_new(struct client *cl, int *fatal, struct ngr_err *err);
/* Stops serving and frees everything kept, replays under way included. NULL does nothing. */
void inspect_free(struct inspect *in);
/* Its address as a URL, "http://127.0.0.1:4040" (borrowed). */
const char *inspect_url(const struct inspect *in);
/* Turn hook work: libmicrohttpd's and the replays' libcurl work due now. NULL does nothing. */
void inspect_turn_end(struct inspect *in);

#endif
