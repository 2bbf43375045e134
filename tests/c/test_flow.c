/* The whole bootstrap, registration and device-management flow through the C API, with a UDP
 * transport and a storage written in C, and a temperature object (3303) held by C callbacks.
 * Driven by tests/c_api.rs: argv[1] is the Bootstrap-Server URI; the driver's LwM2M Server
 * reads, writes and executes while this program runs, then closes our stdin to stop us.
 * Phase 2 restarts from the saved configuration and must register without bootstrapping. */
#define _POSIX_C_SOURCE 200112L
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lwm2mc.h"
#include "check.h"

/* ---- a UDP transport in C ---- */

#define MAX_PEERS 8

typedef struct {
    int fd;
    struct sockaddr_in peers[MAX_PEERS];
    bool open[MAX_PEERS];
    int opens, closes, sends;
} udp_transport;

static lwm2mc_result t_open(void *ud, const lwm2mc_server_info *info, size_t *peer_out) {
    udp_transport *t = ud;
    struct addrinfo hints, *res = NULL;
    char port[8];
    int i;
    for (i = 0; i < MAX_PEERS && t->open[i]; i++) {
    }
    if (i == MAX_PEERS) {
        return LWM2MC_RESULT_INTERNAL;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    snprintf(port, sizeof port, "%u", (unsigned)info->port);
    if (getaddrinfo(info->host, port, &hints, &res) != 0 || res == NULL) {
        return LWM2MC_RESULT_TRANSPORT_ERROR;
    }
    memcpy(&t->peers[i], res->ai_addr, sizeof t->peers[i]);
    freeaddrinfo(res);
    CHECK(info->security_mode == 3 && !info->secure); /* NoSec coap:// */
    t->open[i] = true;
    t->opens++;
    *peer_out = (size_t)i + 1;
    return LWM2MC_RESULT_OK;
}

static lwm2mc_result t_send(void *ud, size_t peer, const uint8_t *buf, size_t len) {
    udp_transport *t = ud;
    if (peer < 1 || peer > MAX_PEERS || !t->open[peer - 1]) {
        return LWM2MC_RESULT_NOT_FOUND;
    }
    t->sends++;
    if (sendto(t->fd, buf, len, 0, (const struct sockaddr *)&t->peers[peer - 1], sizeof t->peers[0]) < 0) {
        return LWM2MC_RESULT_TRANSPORT_ERROR;
    }
    return LWM2MC_RESULT_OK;
}

static void t_close(void *ud, size_t peer) {
    udp_transport *t = ud;
    if (peer >= 1 && peer <= MAX_PEERS) {
        t->open[peer - 1] = false;
        t->closes++;
    }
}

/* The handle of the open peer a datagram came from, 0 if none. */
static size_t peer_of(const udp_transport *t, const struct sockaddr_in *from) {
    for (int i = 0; i < MAX_PEERS; i++) {
        if (t->open[i] && t->peers[i].sin_port == from->sin_port && t->peers[i].sin_addr.s_addr == from->sin_addr.s_addr) {
            return (size_t)i + 1;
        }
    }
    return 0;
}

/* ---- a storage in C (one key-value slot table in memory) ---- */

#define SLOTS 4
typedef struct {
    char key[32];
    uint8_t data[4096];
    size_t len;
    bool used;
} slot;
typedef struct {
    slot slots[SLOTS];
    int stores, loads;
} mem_storage;

static slot *find_slot(mem_storage *s, const char *key, bool create) {
    for (int i = 0; i < SLOTS; i++) {
        if (s->slots[i].used && strcmp(s->slots[i].key, key) == 0) {
            return &s->slots[i];
        }
    }
    if (!create) {
        return NULL;
    }
    for (int i = 0; i < SLOTS; i++) {
        if (!s->slots[i].used && strlen(key) < sizeof s->slots[i].key) {
            s->slots[i].used = true;
            strcpy(s->slots[i].key, key);
            return &s->slots[i];
        }
    }
    return NULL;
}

static lwm2mc_result s_load(void *ud, const char *key, uint8_t *buf, size_t cap, size_t *out_n) {
    mem_storage *s = ud;
    slot *sl = find_slot(s, key, false);
    s->loads++;
    if (sl == NULL) {
        return LWM2MC_RESULT_NOT_FOUND;
    }
    *out_n = sl->len;
    if (sl->len > cap) {
        return LWM2MC_RESULT_INSUFFICIENT_SIZE;
    }
    memcpy(buf, sl->data, sl->len);
    return LWM2MC_RESULT_OK;
}

static lwm2mc_result s_store(void *ud, const char *key, const uint8_t *buf, size_t len) {
    mem_storage *s = ud;
    slot *sl = find_slot(s, key, true);
    if (sl == NULL || len > sizeof sl->data) {
        return LWM2MC_RESULT_STORAGE_ERROR;
    }
    memcpy(sl->data, buf, len);
    sl->len = len;
    s->stores++;
    return LWM2MC_RESULT_OK;
}

static lwm2mc_result s_erase(void *ud, const char *key) {
    slot *sl = find_slot(ud, key, false);
    if (sl != NULL) {
        sl->used = false;
    }
    return LWM2MC_RESULT_OK;
}

/* ---- the temperature object (3303) held by C ---- */

typedef struct {
    lwm2mc_client *client;
    double celsius;
    int reads;
    lwm2mc_result reentrant; /* what a call back into the client returned */
    int created, deleted;    /* instance IDs + 1 of the last create/delete, 0 if none */
} sensor;

static lwm2mc_result temp_create(void *ud, uint16_t obj, uint16_t inst) {
    sensor *s = ud;
    (void)obj;
    s->created = inst + 1;
    return LWM2MC_RESULT_OK;
}

static lwm2mc_result temp_delete(void *ud, uint16_t obj, uint16_t inst) {
    sensor *s = ud;
    (void)obj;
    if (inst != 0) {
        return LWM2MC_RESULT_NOT_FOUND;
    }
    s->deleted = inst + 1;
    return LWM2MC_RESULT_OK;
}

static lwm2mc_result temp_read(void *ud, uint16_t obj, uint16_t inst, uint16_t res, lwm2mc_value *out) {
    sensor *s = ud;
    (void)obj;
    if (inst != 0) {
        return LWM2MC_RESULT_NOT_FOUND;
    }
    s->reads++;
    /* Calling into the client from its own callback must be refused, not undefined. */
    s->reentrant = lwm2mc_client_set_int(s->client, "/3/0/9", 50);
    switch (res) {
    case 5700:
        out->type = LWM2MC_TYPE_FLOAT;
        out->floating = s->celsius;
        return LWM2MC_RESULT_OK;
    case 5701:
        /* A failing sensor: the server must get 5.00. */
        return LWM2MC_RESULT_INTERNAL;
    default:
        return LWM2MC_RESULT_NOT_FOUND;
    }
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

typedef struct {
    bool bootstrapped, registered, deregistered, executed_reboot, wrote_utc;
} seen;

static void drain_events(lwm2mc_client *c, seen *s) {
    lwm2mc_event ev;
    while (lwm2mc_client_next_event(c, &ev) == LWM2MC_RESULT_OK) {
        printf("event %u ssid=%u path=%s message=%s\n", (unsigned)ev.kind, (unsigned)ev.ssid, ev.path, ev.message);
        switch (ev.kind) {
        case LWM2MC_EVENT_KIND_BOOTSTRAPPED: s->bootstrapped = true; break;
        case LWM2MC_EVENT_KIND_REGISTERED: s->registered = true; break;
        case LWM2MC_EVENT_KIND_DEREGISTERED: s->deregistered = true; break;
        case LWM2MC_EVENT_KIND_EXECUTED:
            s->executed_reboot = strcmp(ev.path, "/3/0/4") == 0 && ev.data_len == 0;
            break;
        case LWM2MC_EVENT_KIND_WRITTEN: s->wrote_utc |= strcmp(ev.path, "/3/0/14") == 0; break;
        case LWM2MC_EVENT_KIND_BOOTSTRAP_FAILED:
        case LWM2MC_EVENT_KIND_REGISTRATION_FAILED:
        case LWM2MC_EVENT_KIND_STORAGE_ERROR:
            fprintf(stderr, "failure event: %s\n", ev.message);
            exit(1);
        default: break;
        }
    }
}

/* Runs the client until it is registered (`until_registered`), or else until stdin closes,
 * then stops it and runs until the De-register is done. */
static void run(lwm2mc_client *c, udp_transport *t, seen *s, bool until_registered) {
    bool stopping = false;
    uint64_t deadline = now_ms() + 20000;
    CHECK_OK(lwm2mc_client_start(c, now_ms()));
    for (;;) {
        uint64_t next = 0;
        bool stopped = false;
        struct pollfd fds[2];
        int wait_ms = 50;
        CHECK_OK(lwm2mc_client_step(c, now_ms(), &next));
        drain_events(c, s);
        if (until_registered && s->registered) {
            return;
        }
        CHECK_OK(lwm2mc_client_is_stopped(c, &stopped));
        if (stopping && stopped) {
            return;
        }
        CHECK(now_ms() < deadline);
        if (next != UINT64_MAX && next > now_ms() && next - now_ms() < (uint64_t)wait_ms) {
            wait_ms = (int)(next - now_ms());
        }
        fds[0].fd = t->fd;
        fds[0].events = POLLIN;
        fds[1].fd = STDIN_FILENO;
        /* Only phase 1 listens to stdin (phase 2 starts after the driver closed it). */
        fds[1].fd = until_registered ? -1 : STDIN_FILENO;
        fds[1].events = stopping ? 0 : POLLIN;
        if (poll(fds, 2, wait_ms) < 0) {
            continue;
        }
        if (fds[0].revents & POLLIN) {
            uint8_t buf[2048];
            struct sockaddr_in from;
            socklen_t flen = sizeof from;
            ssize_t n = recvfrom(t->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
            size_t peer = peer_of(t, &from);
            if (n > 0 && peer != 0) {
                CHECK_OK(lwm2mc_client_handle_datagram(c, now_ms(), peer, buf, (size_t)n));
            }
        }
        if (!stopping && (fds[1].revents & (POLLIN | POLLHUP))) {
            char b[16];
            if (read(STDIN_FILENO, b, sizeof b) <= 0) {
                stopping = true;
                CHECK_OK(lwm2mc_client_stop(c, now_ms()));
            }
        }
    }
}

static lwm2mc_client *make_client(const char *bs_uri, udp_transport *t, mem_storage *st, sensor *sen) {
    static const lwm2mc_resource_def temp_res[] = {
        {5700, LWM2MC_TYPE_FLOAT, LWM2MC_OPERATION_READ, false, true},
        {5701, LWM2MC_TYPE_STRING, LWM2MC_OPERATION_READ, false, false},
    };
    lwm2mc_transport transport = {.userdata = t, .open = t_open, .send = t_send, .close = t_close};
    lwm2mc_storage storage = {.userdata = st, .load = s_load, .store = s_store, .erase = s_erase};
    lwm2mc_object_callbacks cb = {.userdata = sen, .read = temp_read, .create_instance = temp_create, .delete_instance = temp_delete};
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *c = NULL;
    CHECK_OK(lwm2mc_config_new("c-device", &cfg));
    CHECK_OK(lwm2mc_config_add_bootstrap_server(cfg, bs_uri, 0));
    CHECK_OK(lwm2mc_config_set_device(cfg, "lwm2mc C test", "c-1", "C-0001"));
    CHECK_OK(lwm2mc_config_set_transport(cfg, &transport));
    CHECK_OK(lwm2mc_config_set_storage(cfg, &storage));
    CHECK_OK(lwm2mc_config_add_object(cfg, 3303, NULL, true, temp_res, 2, &cb));
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    lwm2mc_config_free(cfg); /* the client keeps its own copy */
    sen->client = c;
    return c;
}

int main(int argc, char **argv) {
    udp_transport t;
    mem_storage st;
    sensor sen;
    seen s1, s2;
    struct sockaddr_in local;
    lwm2mc_client *c;
    CHECK(argc == 2);
    memset(&t, 0, sizeof t);
    memset(&st, 0, sizeof st);
    memset(&sen, 0, sizeof sen);
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    sen.celsius = 21.5;
    sen.reentrant = LWM2MC_RESULT_OK;
    t.fd = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(t.fd >= 0);
    memset(&local, 0, sizeof local);
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(t.fd, (struct sockaddr *)&local, sizeof local) == 0);

    /* Phase 1: bootstrap, register, be managed until stdin closes, de-register. */
    c = make_client(argv[1], &t, &st, &sen);
    run(c, &t, &s1, false);
    CHECK(s1.bootstrapped && s1.registered && s1.deregistered);
    CHECK(s1.executed_reboot && s1.wrote_utc);
    CHECK(sen.reads >= 2);
    CHECK(sen.reentrant == LWM2MC_RESULT_REENTRANT_CALL);
    CHECK(sen.created == 2 && sen.deleted == 1); /* created /3303/1, deleted /3303/0 */
    CHECK(st.stores >= 1);
    CHECK(t.opens >= 2);
    lwm2mc_client_free(c);
    printf("phase 1 ok: %d sends, %d stores\n", t.sends, st.stores);

    /* Phase 2: a fresh client over the same storage registers straight away. */
    c = make_client(argv[1], &t, &st, &sen);
    run(c, &t, &s2, true);
    CHECK(s2.registered && !s2.bootstrapped);
    {
        bool reg = false;
        CHECK_OK(lwm2mc_client_is_registered(c, 1, &reg));
        CHECK(reg);
    }
    CHECK_OK(lwm2mc_client_stop(c, now_ms()));
    {
        bool stopped = false;
        uint64_t deadline = now_ms() + 10000;
        while (!stopped && now_ms() < deadline) {
            uint64_t next;
            struct pollfd fd = {t.fd, POLLIN, 0};
            if (poll(&fd, 1, 20) > 0) {
                uint8_t buf[2048];
                struct sockaddr_in from;
                socklen_t flen = sizeof from;
                ssize_t n = recvfrom(t.fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
                if (n > 0 && peer_of(&t, &from) != 0) {
                    CHECK_OK(lwm2mc_client_handle_datagram(c, now_ms(), peer_of(&t, &from), buf, (size_t)n));
                }
            }
            CHECK_OK(lwm2mc_client_step(c, now_ms(), &next));
            drain_events(c, &s2);
            CHECK_OK(lwm2mc_client_is_stopped(c, &stopped));
        }
        CHECK(stopped && s2.deregistered);
    }
    lwm2mc_client_free(c);
    CHECK(t.closes >= 1);
    close(t.fd);
    printf("phase 2 ok\n");
    return 0;
}
