/* inspect_api.h: the JSON of the inspector's API for kept exchanges, in the shape of ngrok's
 * agent API (GET /api/requests/http/{id}): built from an entry's capture only when asked, with
 * jansson. Pure: no I/O. */
#ifndef NGR_INSPECT_API_H
#define NGR_INSPECT_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "inspect_ring.h"

/* An id as the API shows it ("0000000000000007") into out (NGR_INSPECT_ID_LEN bytes), and back:
 * 0 if s is not one. */
void inspect_api_format_id(uint64_t id, char *out);
uint64_t inspect_api_parse_id(const char *s);

/* The entry as ngrok's request object: id, uri, tunnel_name, start (RFC 3339, UTC), duration
 * (nanoseconds), request {method, proto, uri, headers, raw}, response {status, status_code,
 * proto, headers, raw} or null, and ours: timings (ms after it arrived: first_byte, done),
 * the bodies' sizes and whether they were cut, error, replay_of. Returns a new reference, or
 * NULL if out of memory. */
json_t *inspect_api_entry(const struct inspect_entry *e, const char *tunnel_name);

/* The head in a kept direction: its first line (len bytes, without the line end) and its
 * fields as {"Name": ["value", ...]}, in the order met. Returns a new reference or NULL. */
json_t *inspect_api_headers(const char *head, size_t len, const char **line, size_t *line_len);

#endif
