/* A client's life across callbacks and threads, under ASan: lwm2mc_client_free from inside a
 * transport send, a log and an object callback is deferred to the end of the running call
 * (no use after free, no further callbacks but the peers' close); calls from another thread
 * while a call runs get LWM2MC_RESULT_BUSY (not REENTRANT_CALL) and consume nothing, and a
 * free from another thread waits for the running call. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lwm2mc.h"
#include "check.h"
#include "fake_net.h"

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* ---- what the callbacks saw ---- */

static lwm2mc_client *victim;      /* the client a callback frees */
static int logs_after_free;        /* log lines the client sent after it was freed */
static bool freed;                 /* lwm2mc_client_free was called (from a callback) */
static lwm2mc_result call_after_free; /* a call on the client right after freeing it there */
static int free_on_log_level = -1; /* the log level whose first line frees the client */
static fake_net *net;              /* the hooked client's transport, if any */
static int closes_at_free = -1;    /* peers closed when lwm2mc_client_free returned there */

/* Frees the victim from inside one of its callbacks: the free must be deferred, so no peer is
 * closed yet and the client still answers (refusing the re-entrant call). */
static void free_victim_here(void) {
    lwm2mc_client_free(victim);
    freed = true;
    closes_at_free = net != NULL ? net->closes : -1;
    call_after_free = lwm2mc_client_set_int(victim, "/3/0/9", 1);
}

static void log_cb(void *ud, uint32_t level, const char *message) {
    (void)ud;
    (void)message;
    if (freed) {
        logs_after_free++;
        return;
    }
    if ((int)level == free_on_log_level) {
        free_victim_here();
    }
}

static void free_on_send(fake_net *n) {
    (void)n;
    if (!freed) {
        free_victim_here();
    }
}

static void reset(void) {
    victim = NULL;
    logs_after_free = 0;
    freed = false;
    call_after_free = LWM2MC_RESULT_OK;
    free_on_log_level = -1;
    net = NULL;
    closes_at_free = -1;
}

static lwm2mc_config *base_config(const char *endpoint, const char *server) {
    lwm2mc_config *cfg = NULL;
    CHECK_OK(lwm2mc_config_new(endpoint, &cfg));
    CHECK_OK(lwm2mc_config_add_server(cfg, 1, server, 60));
    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "life", "0001"));
    CHECK_OK(lwm2mc_config_set_log(cfg, NULL, log_cb));
    return cfg;
}

static lwm2mc_client *hooked_client(fake_net *n, const lwm2mc_object_callbacks *cb) {
    static const lwm2mc_resource_def res[] = {
        {5700, LWM2MC_TYPE_FLOAT, LWM2MC_OPERATION_READ, false, true},
    };
    lwm2mc_config *cfg = base_config("life-hooked", "coap://127.0.0.1:5683");
    lwm2mc_transport t = fake_transport(n);
    lwm2mc_client *c = NULL;
    net = n;
    CHECK_OK(lwm2mc_config_set_transport(cfg, &t));
    if (cb != NULL) {
        CHECK_OK(lwm2mc_config_add_object(cfg, 3303, NULL, true, res, 1, cb));
    }
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    lwm2mc_config_free(cfg);
    return c;
}

/* ---- free from inside callbacks ---- */

static void free_inside_send(void) {
    fake_net n;
    memset(&n, 0, sizeof n);
    reset();
    n.on_send = free_on_send;
    victim = hooked_client(&n, NULL);
    /* start sends the Register; its send callback frees the client. */
    CHECK_OK(lwm2mc_client_start(victim, 0));
    CHECK(freed);
    CHECK(call_after_free == LWM2MC_RESULT_REENTRANT_CALL);
    CHECK(closes_at_free == 0); /* deferred: nothing closed while the callback ran */
    CHECK(n.sends == 1);
    CHECK(n.closes == 1); /* the open peer was closed by the deferred free */
    CHECK(logs_after_free == 0);
}

static void free_inside_hooked_log(void) {
    fake_net n;
    memset(&n, 0, sizeof n);
    reset();
    free_on_log_level = LWM2MC_LOG_LEVEL_DEBUG; /* the "-> CON POST /rd..." line */
    victim = hooked_client(&n, NULL);
    CHECK_OK(lwm2mc_client_start(victim, 0));
    CHECK(freed && call_after_free == LWM2MC_RESULT_REENTRANT_CALL && closes_at_free == 0);
    CHECK(n.sends == 0); /* freed before the datagram went out: nothing more was sent */
    CHECK(n.closes == 1 && logs_after_free == 0);
}

static void free_inside_udp_log(void) {
    lwm2mc_config *cfg = base_config("life-udp", "coap://127.0.0.1:9");
    reset();
    free_on_log_level = LWM2MC_LOG_LEVEL_DEBUG;
    CHECK_OK(lwm2mc_client_new(cfg, &victim));
    lwm2mc_config_free(cfg);
    CHECK_OK(lwm2mc_client_bind_udp(victim, "127.0.0.1:0"));
    CHECK_OK(lwm2mc_client_start(victim, 0));
    CHECK(freed && call_after_free == LWM2MC_RESULT_REENTRANT_CALL);
    CHECK(logs_after_free == 0);
}

static lwm2mc_result read_and_free(void *ud, uint16_t obj, uint16_t inst, uint16_t res, lwm2mc_value *out) {
    (void)ud;
    (void)obj;
    (void)inst;
    (void)res;
    free_victim_here();
    out->type = LWM2MC_TYPE_FLOAT;
    out->floating = 1.0;
    return LWM2MC_RESULT_OK;
}

static void free_inside_object_read(void) {
    fake_net n;
    lwm2mc_object_callbacks cb;
    uint8_t req[64];
    size_t len;
    memset(&n, 0, sizeof n);
    memset(&cb, 0, sizeof cb);
    reset();
    cb.read = read_and_free;
    victim = hooked_client(&n, &cb);
    CHECK_OK(lwm2mc_client_start(victim, 0));
    fake_accept_register(victim, &n, 1);
    len = coap_request(req, 0x01, 0x4242, "/3303/0/5700", -1, NULL, 0);
    CHECK_OK(lwm2mc_client_handle_datagram(victim, 2, FAKE_PEER, req, len));
    CHECK(freed && call_after_free == LWM2MC_RESULT_REENTRANT_CALL && closes_at_free == 0);
    CHECK(n.closes == 1 && logs_after_free == 0);
}

/* The peers' close callbacks run inside the free: calling the client from there is refused,
 * and freeing it again is harmless. */
static lwm2mc_result call_from_close;

static void close_and_free_again(void *ud, size_t peer) {
    fake_close(ud, peer);
    call_from_close = lwm2mc_client_set_int(victim, "/3/0/9", 2);
    lwm2mc_client_free(victim);
}

static void free_again_inside_close(void) {
    fake_net n;
    lwm2mc_config *cfg = base_config("life-close", "coap://127.0.0.1:5683");
    lwm2mc_transport t;
    memset(&n, 0, sizeof n);
    reset();
    t = fake_transport(&n);
    t.close = close_and_free_again;
    CHECK_OK(lwm2mc_config_set_transport(cfg, &t));
    CHECK_OK(lwm2mc_client_new(cfg, &victim));
    lwm2mc_config_free(cfg);
    CHECK_OK(lwm2mc_client_start(victim, 0));
    call_from_close = LWM2MC_RESULT_OK;
    lwm2mc_client_free(victim);
    CHECK(n.closes == 1 && call_from_close == LWM2MC_RESULT_REENTRANT_CALL);
}

/* ---- another thread ---- */

typedef struct {
    pthread_mutex_t m;
    pthread_cond_t cv;
    int stage; /* 1: the worker is inside a callback; 2: the main thread let it go */
    bool callback_done;
    bool closed_after_callback;
    lwm2mc_client *c;
    lwm2mc_result worker_result;
} rendezvous;

static rendezvous rv = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, false, NULL, LWM2MC_RESULT_OK};

static void set_stage(int stage) {
    pthread_mutex_lock(&rv.m);
    rv.stage = stage;
    pthread_cond_broadcast(&rv.cv);
    pthread_mutex_unlock(&rv.m);
}

static void wait_stage(int stage) {
    pthread_mutex_lock(&rv.m);
    while (rv.stage < stage) {
        pthread_cond_wait(&rv.cv, &rv.m);
    }
    pthread_mutex_unlock(&rv.m);
}

/* Inside the worker's call: tell the main thread, wait for it, then linger a little so that
 * its free arrives while the call still runs. */
static void block_in_send(fake_net *n) {
    static bool blocked_once; /* only the worker thread sends */
    (void)n;
    if (!blocked_once) {
        blocked_once = true;
        set_stage(1);
        wait_stage(2);
        sleep_ms(200);
        rv.callback_done = true;
    }
}

static void thread_close(void *ud, size_t peer) {
    fake_close(ud, peer);
    rv.closed_after_callback = rv.callback_done;
}

static void *worker_start(void *arg) {
    (void)arg;
    rv.worker_result = lwm2mc_client_start(rv.c, 0);
    return NULL;
}

static void other_thread_calls_get_busy_and_free_waits(void) {
    fake_net n;
    pthread_t worker;
    lwm2mc_transport t;
    lwm2mc_config *cfg;
    uint64_t next = 0;
    bool flag = false;
    memset(&n, 0, sizeof n);
    reset();
    n.on_send = block_in_send;
    cfg = base_config("life-thread", "coap://127.0.0.1:5683");
    t = fake_transport(&n);
    t.close = thread_close;
    CHECK_OK(lwm2mc_config_set_transport(cfg, &t));
    CHECK_OK(lwm2mc_client_new(cfg, &rv.c));
    lwm2mc_config_free(cfg);
    CHECK(pthread_create(&worker, NULL, worker_start, NULL) == 0);
    wait_stage(1);
    /* The worker is inside start (in its send callback): every call from here is BUSY. */
    CHECK_RESULT(lwm2mc_client_set_int(rv.c, "/3/0/9", 5), LWM2MC_RESULT_BUSY);
    CHECK_RESULT(lwm2mc_client_step(rv.c, 0, &next), LWM2MC_RESULT_BUSY);
    CHECK_RESULT(lwm2mc_client_is_stopped(rv.c, &flag), LWM2MC_RESULT_BUSY);
    CHECK_RESULT(lwm2mc_client_handle_datagram(rv.c, 0, FAKE_PEER, (const uint8_t *)"\x40\x00\x00\x01", 4),
                 LWM2MC_RESULT_BUSY);
    CHECK(strcmp(lwm2mc_result_str(LWM2MC_RESULT_BUSY), "another thread is using this client") == 0);
    set_stage(2);
    /* Waits for the worker's call to return, then frees (closing the open peer). */
    lwm2mc_client_free(rv.c);
    CHECK(rv.callback_done && rv.closed_after_callback && n.closes == 1);
    CHECK(pthread_join(worker, NULL) == 0);
    CHECK_OK(rv.worker_result);
}

/* ---- a refused call consumes nothing (UDP mode) ---- */

static int blocking_log_calls;

static void blocking_log(void *ud, uint32_t level, const char *message) {
    (void)ud;
    (void)message;
    if (level == LWM2MC_LOG_LEVEL_DEBUG && blocking_log_calls++ == 0) {
        set_stage(1);
        wait_stage(2);
    }
}

static void *worker_poll(void *arg) {
    (void)arg;
    rv.worker_result = lwm2mc_client_start(rv.c, 0);
    return NULL;
}

static void busy_poll_loses_no_datagram(void) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in server, device;
    socklen_t slen = sizeof server;
    char uri[64];
    lwm2mc_config *cfg = NULL;
    pthread_t worker;
    uint16_t port = 0;
    uint8_t buf[1500];
    const uint8_t ping[4] = {0x40, 0x00, 0x12, 0x34}; /* CON empty: answered with RST */
    bool answered = false;
    CHECK(s >= 0);
    memset(&server, 0, sizeof server);
    server.sin_family = AF_INET;
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(s, (struct sockaddr *)&server, sizeof server) == 0);
    CHECK(getsockname(s, (struct sockaddr *)&server, &slen) == 0);
    snprintf(uri, sizeof uri, "coap://127.0.0.1:%u", (unsigned)ntohs(server.sin_port));

    memset(&rv, 0, sizeof rv);
    pthread_mutex_init(&rv.m, NULL);
    pthread_cond_init(&rv.cv, NULL);
    CHECK_OK(lwm2mc_config_new("life-poll", &cfg));
    CHECK_OK(lwm2mc_config_add_server(cfg, 1, uri, 60));
    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "life", "0001"));
    CHECK_OK(lwm2mc_config_set_log(cfg, NULL, blocking_log));
    CHECK_OK(lwm2mc_client_new(cfg, &rv.c));
    lwm2mc_config_free(cfg);
    CHECK_OK(lwm2mc_client_bind_udp(rv.c, "127.0.0.1:0"));
    CHECK_OK(lwm2mc_client_udp_port(rv.c, &port));
    CHECK(pthread_create(&worker, NULL, worker_poll, NULL) == 0);
    wait_stage(1);
    /* The worker is inside start (in the log hook). A ping waits in the device's socket; a
     * poll from this thread is refused and must leave it there. */
    memset(&device, 0, sizeof device);
    device.sin_family = AF_INET;
    device.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    device.sin_port = htons(port);
    CHECK(sendto(s, ping, sizeof ping, 0, (struct sockaddr *)&device, sizeof device) == (ssize_t)sizeof ping);
    sleep_ms(20);
    CHECK_RESULT(lwm2mc_client_poll_udp(rv.c, 0), LWM2MC_RESULT_BUSY);
    set_stage(2);
    CHECK(pthread_join(worker, NULL) == 0);
    CHECK_OK(rv.worker_result);
    /* The next poll reads the ping and answers it (among the Register's datagrams). */
    for (int i = 0; i < 20 && !answered; i++) {
        struct pollfd fd = {s, POLLIN, 0};
        CHECK_OK(lwm2mc_client_poll_udp(rv.c, 10));
        while (poll(&fd, 1, 10) > 0) {
            ssize_t n = recv(s, buf, sizeof buf, 0);
            if (n >= 4 && (buf[0] & 0x30) == 0x30 && buf[2] == 0x12 && buf[3] == 0x34) {
                answered = true;
            }
        }
    }
    CHECK(answered);
    lwm2mc_client_free(rv.c);
    close(s);
}

int main(void) {
    free_inside_send();
    free_inside_hooked_log();
    free_inside_udp_log();
    free_inside_object_read();
    free_again_inside_close();
    other_thread_calls_get_busy_and_free_waits();
    busy_poll_loses_no_datagram();
    printf("lifecycle: ok\n");
    return 0;
}
