/* public_answer.h: what a public client gets back from the gateway: the local service's
 * response, built from its REPLY (kept decoded on arrival, hop-by-hop fields dropped, the body
 * whole or through a reader, a 101 handed to the upgrade path), or the gateway's own page with
 * the header its refusal needs (Retry-After, WWW-Authenticate, a Location to HTTPS). Queues on
 * req's libmicrohttpd connection; the reader and the upgrade handler are public_http.c's, which
 * owns the request's waits. */
#ifndef NGR_PUBLIC_ANSWER_H
#define NGR_PUBLIC_ANSWER_H

#include <microhttpd.h>

#include "err.h"
#include "frame.h"

struct pub_req;

/* Keeps REPLY f as req->head, decoded once. Returns 0, NGR_EPROTO (malformed) or
 * NGR_ENOMEM. */
NGR_MUST_CHECK int public_answer_keep_reply(struct pub_req *req, const struct frame *f);
/* Queues the response for req->head; the body comes through read (unless it is all here), a
 * 101 goes to upgraded. The kept REPLY is freed. */
enum MHD_Result public_answer_reply(struct pub_req *req, MHD_ContentReaderCallback read,
                                    MHD_UpgradeHandler upgraded);
/* Queues req->page with what its refusal needs. */
enum MHD_Result public_answer_page(struct pub_req *req);

#endif
