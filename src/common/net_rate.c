/* net_rate.c: the kernel's measure of how fast a TCP connection delivers (TCP_INFO's
 * tcpi_delivery_rate). A file of its own because that field is only in <linux/tcp.h>, whose
 * struct tcp_info clashes with the older one of <netinet/tcp.h> that net.c includes. */
#include "net.h"

#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/tcp.h>

int
net_delivery_rate(int fd, uint64_t *bytes_per_s)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_delivery_rate) + sizeof(ti.tcpi_delivery_rate))
        return -1; /* not TCP (a socketpair in the tests), or a kernel older than 4.9 */
    *bytes_per_s = ti.tcpi_delivery_rate;
    return 0;
}
