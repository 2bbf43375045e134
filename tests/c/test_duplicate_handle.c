/* A transport whose open hands out the same peer handle for two servers (a host bug). Before,
 * both peers were mapped to it: datagrams for one were sent through the other's handle and a
 * datagram arriving on it was attributed to the first (a DM GET opened a bootstrap session).
 * Now the second open is refused with a warning and nothing is sent through a shared handle. */
#include <stdio.h>
#include <string.h>

#include "lwm2mc.h"
#include "check.h"
#include "fake_net.h"

static char last_warning[512];
static int warnings;

static void remember_warning(void *ud, uint32_t level, const char *message) {
    (void)ud;
    if (level == LWM2MC_LOG_LEVEL_WARN) {
        warnings++;
        snprintf(last_warning, sizeof last_warning, "%s", message);
    }
}

int main(void) {
    fake_net net;
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *c = NULL;
    lwm2mc_transport t;
    uint64_t next = 0;
    memset(&net, 0, sizeof net);
    t = fake_transport(&net);
    CHECK_OK(lwm2mc_config_new("dup-handle", &cfg));
    CHECK_OK(lwm2mc_config_add_bootstrap_server(cfg, "coap://127.0.0.1:5783", 3600));
    CHECK_OK(lwm2mc_config_add_server(cfg, 1, "coap://127.0.0.1:5683", 60));
    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "dup", "0001"));
    CHECK_OK(lwm2mc_config_set_transport(cfg, &t));
    CHECK_OK(lwm2mc_config_set_log(cfg, NULL, remember_warning));
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    lwm2mc_config_free(cfg);

    /* Start: the Bootstrap-Server's peer and the LwM2M Server's are opened; both get 7. */
    CHECK_OK(lwm2mc_client_start(c, 0));
    CHECK_OK(lwm2mc_client_step(c, 1, &next));
    CHECK(net.opens == 2);
    CHECK(warnings == 1);
    CHECK(strstr(last_warning, "coap://127.0.0.1:5683") != NULL);
    CHECK(strstr(last_warning, "handle 7") != NULL);
    /* The Register for the LwM2M Server is not sent through the Bootstrap-Server's handle. */
    CHECK(net.sends == 0);

    lwm2mc_client_free(c);
    printf("duplicate handle: ok\n");
    return 0;
}
