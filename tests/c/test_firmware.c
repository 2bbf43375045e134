/* Firmware update by push from C: a package written to /5/0/0 in three Block1 blocks reaches
 * the host's callbacks in order and whole, Update installs it (Update Result 1), and a package
 * the host finds corrupt gives Update Result 5. The test plays the LwM2M Server. */
#include <stdio.h>
#include <string.h>

#include "lwm2mc.h"
#include "check.h"
#include "fake_net.h"

static uint8_t image[4096];
static size_t image_len;
static int opens, verifies, applies, discards;
static uint64_t announced;
static uint32_t verify_answer; /* 0, or an Update Result code */

static lwm2mc_result fw_open(void *ud, uint64_t size, bool known) {
    (void)ud;
    opens++;
    announced = known ? size : 0;
    image_len = 0;
    return 0;
}

static lwm2mc_result fw_write(void *ud, uint64_t offset, const uint8_t *chunk, size_t len) {
    (void)ud;
    CHECK(offset == image_len && image_len + len <= sizeof image);
    memcpy(image + image_len, chunk, len);
    image_len += len;
    return 0;
}

static lwm2mc_result fw_verify(void *ud) {
    (void)ud;
    verifies++;
    return verify_answer;
}

static lwm2mc_result fw_apply(void *ud) {
    (void)ud;
    applies++;
    return 0;
}

static char downloading[256];
static int downloads;
static bool defer;

static lwm2mc_result fw_download(void *ud, const char *uri) {
    (void)ud;
    snprintf(downloading, sizeof downloading, "%s", uri);
    downloads++;
    return 0;
}

static bool fw_defer(void *ud) {
    (void)ud;
    return defer;
}

/* Drains the events; whether one of `kind` was among them. */
static bool had_event(lwm2mc_client *c, lwm2mc_event_kind kind) {
    lwm2mc_event ev;
    bool seen = false;
    while (lwm2mc_client_next_event(c, &ev) == LWM2MC_RESULT_OK) seen = seen || ev.kind == kind;
    return seen;
}

static void fw_discard(void *ud) {
    (void)ud;
    discards++;
    image_len = 0;
}

/* PUT /5/0/0 (octet-stream) carrying block `num` of `total` bytes, 1024-byte blocks. */
static size_t package_block(uint8_t *out, uint16_t mid, uint32_t num, const uint8_t *data, size_t len, size_t total) {
    size_t n = 0;
    int more = (num + 1) * 1024 < total;
    uint32_t b1 = (num << 4) | (more ? 8u : 0u) | 6u;
    out[n++] = 0x40;
    out[n++] = 0x03;
    out[n++] = (uint8_t)(mid >> 8);
    out[n++] = (uint8_t)(mid & 0xff);
    out[n++] = 0xB1; out[n++] = '5';            /* Uri-Path (11) */
    out[n++] = 0x01; out[n++] = '0';
    out[n++] = 0x01; out[n++] = '0';
    out[n++] = 0x11; out[n++] = 42;             /* Content-Format (12): 42 */
    /* Block1 (27): delta 15 from 12, extended form 13 + 2. */
    out[n++] = (uint8_t)(0xD0 | (b1 > 0xff ? 2 : 1));
    out[n++] = 2;
    if (b1 > 0xff) out[n++] = (uint8_t)(b1 >> 8);
    out[n++] = (uint8_t)(b1 & 0xff);
    out[n++] = 0xff;
    memcpy(out + n, data, len);
    return n + len;
}

static int32_t read_int(lwm2mc_client *c, const char *path) {
    lwm2mc_value v;
    CHECK_OK(lwm2mc_client_get_value(c, path, &v));
    return (int32_t)v.integer;
}

int main(void) {
    fake_net n;
    lwm2mc_config *cfg = NULL;
    lwm2mc_client *c = NULL;
    lwm2mc_transport t;
    lwm2mc_firmware_callbacks fw;
    uint8_t pkg[2600], req[1200];
    size_t len;
    uint16_t mid = 0x500;
    memset(&n, 0, sizeof n);
    memset(&fw, 0, sizeof fw);
    for (size_t i = 0; i < sizeof pkg; i++) pkg[i] = (uint8_t)(i * 13);
    fw.open = fw_open;
    fw.write = fw_write;
    fw.verify = fw_verify;
    fw.apply = fw_apply;
    fw.discard = fw_discard;
    fw.download_protocols = 1u << 2; /* HTTP, /5/0/8 value 2 */
    fw.download = fw_download;
    fw.defer_update = fw_defer;
    t = fake_transport(&n);
    CHECK_OK(lwm2mc_config_new("c-firmware", &cfg));
    CHECK_OK(lwm2mc_config_add_server(cfg, 1, "coap://127.0.0.1:5683", 60));
    CHECK_OK(lwm2mc_config_set_device(cfg, "ACME", "fw", "0001"));
    CHECK_OK(lwm2mc_config_set_transport(cfg, &t));
    CHECK_RESULT(lwm2mc_config_set_firmware(cfg, NULL), LWM2MC_RESULT_NULL_PARAMETER);
    CHECK_OK(lwm2mc_config_set_firmware(cfg, &fw));
    CHECK_OK(lwm2mc_client_new(cfg, &c));
    lwm2mc_config_free(cfg);
    CHECK_OK(lwm2mc_client_start(c, 0));
    fake_accept_register(c, &n, 1);
    CHECK(read_int(c, "/5/0/3") == 0 && read_int(c, "/5/0/5") == 0);

    /* Three blocks: 2.31, 2.31, 2.04; the bytes arrive whole; State 2 (Downloaded). */
    for (uint32_t num = 0; num < 3; num++) {
        size_t off = num * 1024, part = sizeof pkg - off < 1024 ? sizeof pkg - off : 1024;
        len = package_block(req, mid++, num, pkg + off, part, sizeof pkg);
        CHECK(fake_ask(c, &n, req, len, 100 + num) == (num < 2 ? 0x5F : 0x44));
    }
    CHECK(opens == 1 && verifies == 1 && image_len == sizeof pkg && memcmp(image, pkg, sizeof pkg) == 0);
    CHECK(read_int(c, "/5/0/3") == 2);
    /* Execute Update (POST /5/0/2): installed, Idle, Update Result 1. */
    len = coap_request(req, 0x02, mid++, "/5/0/2", -1, NULL, 0);
    CHECK(fake_ask(c, &n, req, len, 200) == 0x44);
    CHECK(applies == 1 && read_int(c, "/5/0/3") == 0 && read_int(c, "/5/0/5") == 1);

    /* A package the host finds corrupt: Idle, Update Result 5, discarded. */
    verify_answer = 5;
    len = package_block(req, mid++, 0, pkg, 500, 500);
    CHECK(fake_ask(c, &n, req, len, 300) == 0x44);
    CHECK(read_int(c, "/5/0/3") == 0 && read_int(c, "/5/0/5") == 5 && discards == 1);
    /* An http:// Package URI goes to the host's downloader; its end makes it Downloaded. */
    verify_answer = 0;
    CHECK_RESULT(lwm2mc_client_firmware_downloaded(c, 350, 0), LWM2MC_RESULT_INVALID_STATE);
    len = coap_request(req, 0x03, mid++, "/5/0/1", 0, (const uint8_t *)"http://files/fw.bin", 19);
    CHECK(fake_ask(c, &n, req, len, 400) == 0x44);
    CHECK(downloads == 1 && strcmp(downloading, "http://files/fw.bin") == 0);
    CHECK(read_int(c, "/5/0/3") == 1);
    CHECK_OK(lwm2mc_client_firmware_downloaded(c, 410, 0));
    CHECK(read_int(c, "/5/0/3") == 2 && verifies == 3);
    /* Update deferred to the user: Result 11 and the event; their yes installs it. */
    defer = true;
    (void)had_event(c, LWM2MC_EVENT_KIND_FIRMWARE_UPDATE_AWAITING_USER);
    len = coap_request(req, 0x02, mid++, "/5/0/2", -1, NULL, 0);
    CHECK(fake_ask(c, &n, req, len, 420) == 0x44);
    CHECK(read_int(c, "/5/0/3") == 2 && read_int(c, "/5/0/5") == 11 && applies == 1);
    CHECK(had_event(c, LWM2MC_EVENT_KIND_FIRMWARE_UPDATE_AWAITING_USER));
    CHECK_OK(lwm2mc_client_firmware_accept_update(c, 430));
    CHECK(applies == 2 && read_int(c, "/5/0/3") == 0 && read_int(c, "/5/0/5") == 1);
    CHECK_RESULT(lwm2mc_client_firmware_accept_update(c, 440), LWM2MC_RESULT_INVALID_STATE);
    /* A scheme neither side downloads: Update Result 9, the Write itself succeeds. */
    len = coap_request(req, 0x03, mid++, "/5/0/1", 0, (const uint8_t *)"coaps://x/fw", 12);
    CHECK(fake_ask(c, &n, req, len, 450) == 0x44);
    CHECK(read_int(c, "/5/0/3") == 0 && read_int(c, "/5/0/5") == 9 && downloads == 1);
    (void)announced;
    lwm2mc_client_free(c);
    printf("firmware: ok\n");
    return 0;
}
