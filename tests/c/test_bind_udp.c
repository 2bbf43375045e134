/* A failed lwm2mc_client_bind_udp (a bad address, an address in use) changes nothing: the
 * client stays usable in its transport-less state, and a second bind with a good address
 * works. */
#include <stdio.h>
#include <string.h>

#include "lwm2mc.h"
#include "check.h"

static lwm2mc_client *make(const char *endpoint) {
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *c = NULL;
    CHECK_OK(lwm2mc_config_new(endpoint, &cfg));
    CHECK_OK(lwm2mc_config_add_bootstrap_server(cfg, "coap://127.0.0.1:9", 0));
    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "bind", "0001"));
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    lwm2mc_config_free(cfg);
    return c;
}

int main(void) {
    lwm2mc_client *a = make("bind-a");
    lwm2mc_client *b = make("bind-b");
    uint16_t port_a = 0, port_b = 0;
    char taken[32], buf[16];
    size_t n = 0;

    CHECK_OK(lwm2mc_client_bind_udp(a, "127.0.0.1:0"));
    CHECK_OK(lwm2mc_client_udp_port(a, &port_a));
    snprintf(taken, sizeof taken, "127.0.0.1:%u", (unsigned)port_a);

    /* Refused binds: not an address, a host name, an address in use. */
    CHECK_RESULT(lwm2mc_client_bind_udp(b, "not an address"), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_client_bind_udp(b, "localhost:0"), LWM2MC_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(lwm2mc_client_bind_udp(b, taken), LWM2MC_RESULT_TRANSPORT_ERROR);
    CHECK_RESULT(lwm2mc_client_bind_udp(b, taken), LWM2MC_RESULT_TRANSPORT_ERROR);

    /* Nothing changed: values, and still no transport. */
    CHECK_OK(lwm2mc_client_get_string(b, "/3/0/0", buf, sizeof buf, &n));
    CHECK(n == 4 && strcmp(buf, "ACME") == 0);
    CHECK_OK(lwm2mc_client_set_int(b, "/3/0/9", 42));
    CHECK_RESULT(lwm2mc_client_poll_udp(b, 0), LWM2MC_RESULT_INVALID_STATE);
    CHECK_RESULT(lwm2mc_client_udp_port(b, &port_b), LWM2MC_RESULT_INVALID_STATE);

    /* A good address now works, and the client runs. */
    CHECK_OK(lwm2mc_client_bind_udp(b, "127.0.0.1:0"));
    CHECK_OK(lwm2mc_client_udp_port(b, &port_b));
    CHECK(port_b != 0 && port_b != port_a);
    CHECK_OK(lwm2mc_client_start(b, 0));
    CHECK_OK(lwm2mc_client_poll_udp(b, 0));
    {
        lwm2mc_value v;
        CHECK_OK(lwm2mc_client_get_value(b, "/3/0/9", &v));
        CHECK(v.type == LWM2MC_TYPE_INTEGER && v.integer == 42);
    }
    /* Bound once: a second bind is a state error that leaves the socket as it is. */
    CHECK_RESULT(lwm2mc_client_bind_udp(b, "127.0.0.1:0"), LWM2MC_RESULT_INVALID_STATE);
    {
        uint16_t again = 0;
        CHECK_OK(lwm2mc_client_udp_port(b, &again));
        CHECK(again == port_b);
    }
    lwm2mc_client_free(a);
    lwm2mc_client_free(b);
    printf("bind udp: ok\n");
    return 0;
}
