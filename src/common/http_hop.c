/* http_hop.c: hop-by-hop header detection; see http_hop.h. */
#include "http_hop.h"

#include <string.h>
#include <strings.h>

int
http_hop_is_fixed(const char *name, size_t len)
{
    static const struct {
        const char *name;
        size_t len;
    } hop[] = {{"connection", 10}, {"proxy-connection", 16}, {"keep-alive", 10}, {"te", 2},
               {"transfer-encoding", 17}, {"upgrade", 7}, {"trailer", 7}, {"content-length", 14}};
    size_t i;

    for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
        if (hop[i].len == len && strncasecmp(hop[i].name, name, len) == 0)
            return 1;
    return 0;
}

int
http_hop_in_connection(const char *name, size_t len, const char *value, size_t vlen)
{
    size_t i = 0;

    while (i < vlen) {
        size_t start, end;

        while (i < vlen && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
            i++;
        start = i;
        while (i < vlen && value[i] != ',')
            i++;
        end = i;
        while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
            end--;
        if (end - start == len && len > 0 && strncasecmp(value + start, name, len) == 0)
            return 1;
    }
    return 0;
}
