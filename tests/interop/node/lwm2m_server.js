#!/usr/bin/env node
// An LwM2M Server on lwm2m-node-lib (Telefonica's Node.js LwM2M library on node-coap), an
// implementation independent of ours, managing one real device over UDP on 127.0.0.1.
//
//   node lwm2m_server.js --endpoint EP --lifetime 10 --observe /3/0/13 \
//       [--expect-object /3303/0] -- DEVICE-COMMAND... {server} ...
//
// The script starts the server on a free UDP port, starts the device command with every
// `{server}` argument replaced by the server's URI (coap://127.0.0.1:PORT), then runs these
// steps against it, printing `PASS <step>` or `FAIL <step>: <details>` for each:
//
//   register         the device registers with the endpoint name, lifetime and object links
//   read-instance    Read /3/0 (SenML JSON)
//   read-resource    Read /3/0/0 (text/plain), the same value as in the instance
//   write            Write /3/0/14 (UTC Offset, text/plain), then Read it back
//   execute          Execute /1/0/8 (Registration Update Trigger): the device sends an Update
//   discover         Discover /3/0
//   observe          Observe the --observe resource: two notifications, then Cancel, which the
//                    device must report ending
//   observe-instance Observe its instance: a notification
//   update           the device refreshes its registration before the lifetime runs out
//   deregister       on SIGTERM the device sends De-register and exits 0
//
// and `PASS all` last if every step passed; otherwise the device's transcript follows and the
// exit status is 1. The whole run is bounded (--timeout, default 40 s) and the device is killed
// if still running when the script ends.

'use strict';

// node-coap 0.22 (lwm2m-node-lib's CoAP stack) still calls `new Buffer()`; Node 20 warns about
// it on stderr for every process. Not our concern here.
process.noDeprecation = true;

const childProcess = require('child_process');
const dgram = require('dgram');
const coap = require('coap');
const lwm2m = require('lwm2m-node-lib');

const HOST = '127.0.0.1';
const STEP_TIMEOUT_MS = 5000;
const OBSERVE_WINDOW_MS = 4000;

// --------------------------------------------------------------------------------------------
// Command line
// --------------------------------------------------------------------------------------------

function parseArgs(argv) {
    const opts = {endpoint: null, lifetime: 10, observe: '/3/0/13', expectObjects: [], timeout: 40};
    const split = argv.indexOf('--');
    if (split < 0 || split === argv.length - 1) {
        usage('missing "-- DEVICE-COMMAND..."');
    }
    const own = argv.slice(0, split);
    opts.device = argv.slice(split + 1);
    for (let i = 0; i < own.length; i += 2) {
        const value = own[i + 1];
        if (value === undefined) {
            usage(`${own[i]} needs a value`);
        }
        switch (own[i]) {
        case '--endpoint': opts.endpoint = value; break;
        case '--lifetime': opts.lifetime = Number(value); break;
        case '--observe': opts.observe = value; break;
        case '--expect-object': opts.expectObjects.push(value); break;
        case '--timeout': opts.timeout = Number(value); break;
        default: usage(`unknown option ${own[i]}`);
        }
    }
    if (!opts.endpoint || !(opts.lifetime > 0) || !(opts.timeout > 0) ||
        !/^\/\d+\/\d+\/\d+$/.test(opts.observe)) {
        usage('bad --endpoint, --lifetime, --timeout or --observe');
    }
    return opts;
}

function usage(why) {
    process.stderr.write(`lwm2m_server.js: ${why}\nusage: node lwm2m_server.js --endpoint EP ` +
        '[--lifetime S] [--observe /O/I/R] [--expect-object /O/I]... [--timeout S] -- DEVICE-COMMAND...\n');
    process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));

// lwm2m-node-lib lets environment variables override its configuration (LWM2M_PORT,
// LWM2M_REGISTRY_TYPE, LWM2M_WRITE_FORMAT, ...); this run's configuration is the one below.
// LWM2M_LOG_LEVEL stays: set it to DEBUG to see the library's log.
for (const name of Object.keys(process.env)) {
    if (name.startsWith('LWM2M_') && name !== 'LWM2M_LOG_LEVEL') {
        delete process.env[name];
    }
}

// --------------------------------------------------------------------------------------------
// Reporting
// --------------------------------------------------------------------------------------------

const T0 = Date.now();
const failures = [];
const deviceLines = [];

function stamp() {
    return `[${((Date.now() - T0) / 1000).toFixed(2).padStart(6)}s]`;
}

function pass(step, detail) {
    console.log(`PASS ${step}${detail ? ` (${detail})` : ''}`);
}

function fail(step, detail) {
    failures.push(step);
    console.log(`FAIL ${step}: ${detail}`);
}

class StepError extends Error {}

function check(cond, detail) {
    if (!cond) {
        throw new StepError(detail);
    }
}

// --------------------------------------------------------------------------------------------
// The server
// --------------------------------------------------------------------------------------------

// lwm2m-node-lib reports what devices send through handlers; they queue events here for the
// steps to wait on.
const events = [];
let waiter = null;

function emit(kind, data) {
    events.push({kind, at: Date.now(), ...data});
    if (waiter) {
        waiter();
    }
}

// The next event of `kind` (earlier events of other kinds are left queued), or a StepError
// after `ms`.
function nextEvent(kind, ms, what) {
    return new Promise((resolve, reject) => {
        const deadline = setTimeout(() => {
            waiter = null;
            reject(new StepError(`no ${what} within ${ms / 1000} s`));
        }, ms);
        const look = () => {
            const i = events.findIndex((e) => e.kind === kind);
            if (i >= 0) {
                clearTimeout(deadline);
                waiter = null;
                resolve(events.splice(i, 1)[0]);
            }
        };
        waiter = look;
        look();
    });
}

// Content-Formats. lwm2m-node-lib's sample configuration (config.js) registers the draft
// numbers 1541-1544 that pre-date LwM2M 1.0; a user of a 1.0/1.1 device configures the
// registered ones (Core 1.1 §7 / FACTS §6.1) instead. node-coap already knows text/plain (0)
// and application/link-format (40). lwm2m-node-lib hands payloads back as UTF-8 strings, so
// the instance is read as SenML JSON (text) rather than TLV (binary).
const FORMATS = [
    {name: 'application/senml+json', value: 110},
    {name: 'application/senml+cbor', value: 112},
    {name: 'application/vnd.oma.lwm2m+tlv', value: 11542},
    {name: 'application/vnd.oma.lwm2m+json', value: 11543},
];

const config = {
    port: 0, // set to a free port below
    lifetimeCheckInterval: 1000,
    udpWindow: 100,
    // Registrations without a `type=` query get this type; without one the library answers
    // every Register 4.00 ("type not found").
    defaultType: 'Device',
    types: [],
    logLevel: process.env.LWM2M_LOG_LEVEL || 'FATAL',
    ipProtocol: 'udp4',
    serverProtocol: 'udp4',
    // The in-memory registry (no `deviceRegistry: {type: 'mongodb'}`): nothing to run besides.
    formats: FORMATS,
    // Writes and Executes carry this Content-Format; reads send this Accept (switched per
    // request below: the library has one global setting for each).
    writeFormat: 'text/plain',
    defaultAcceptFormat: 'text/plain',
};

// lwm2m-node-lib listens on every address (it calls node-coap's server.listen(port) without
// one) and has no setting for it; the tests talk over 127.0.0.1 only, so its server is bound
// there through node-coap's own listen(port, address, callback).
const createServer = coap.createServer;
coap.createServer = function (options, listener) {
    const server = createServer.call(coap, options, listener);
    const listen = server.listen;
    server.listen = function (port, done) {
        return listen.call(server, port, HOST, done);
    };
    return server;
};

// A UDP port free on 127.0.0.1. The library needs its port in `config.port` before it starts
// (it also sends its requests to the device through itself, as a CoAP forward-proxy on that
// port), so the port is taken from the kernel and released just before the server binds it.
function freePort() {
    return new Promise((resolve, reject) => {
        const sock = dgram.createSocket('udp4');
        sock.on('error', reject);
        sock.bind(0, HOST, () => {
            const {port} = sock.address();
            sock.close(() => resolve(port));
        });
    });
}

function startServer() {
    return new Promise((resolve, reject) => {
        lwm2m.server.start(config, (error, serverInfo) => (error ? reject(error) : resolve(serverInfo)));
    });
}

function installHandlers(serverInfo) {
    lwm2m.server.setHandler(serverInfo, 'registration', (endpoint, lifetime, version, binding, payload, done) => {
        emit('register', {endpoint, lifetime, version, binding, payload});
        done();
    });
    lwm2m.server.setHandler(serverInfo, 'updateRegistration', (device, payload, done) => {
        emit('update', {device, payload});
        done();
    });
    lwm2m.server.setHandler(serverInfo, 'unregistration', (device, done) => {
        emit('deregister', {device});
        done();
    });
    // Setting the unregistration handler restarts the library's lifetime check with an
    // undefined interval (lwm2m-server.js reads `lifetimeCheckInterval` from the wrong object),
    // which Node runs every millisecond. Restart it at the configured interval; registrations
    // it drops for an expired lifetime are reported apart from De-registers.
    lwm2m.server.getRegistry().checkLifetime(config.lifetimeCheckInterval, (device, done) => {
        emit('expired', {device});
        done();
    });
}

// The library's operations take callbacks and retransmit for CoAP's full 93 s; each step
// gives them STEP_TIMEOUT_MS.
function call(what, fn, ...args) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new StepError(`${what}: no answer within ${STEP_TIMEOUT_MS / 1000} s`)),
            STEP_TIMEOUT_MS);
        fn(...args, (error, result) => {
            clearTimeout(timer);
            if (error) {
                reject(new StepError(`${what}: ${error.name || 'error'} ${error.message || ''}`.trim()));
            } else {
                resolve(result);
            }
        });
    });
}

function withAccept(format, fn) {
    config.defaultAcceptFormat = format;
    return fn().finally(() => {
        config.defaultAcceptFormat = 'text/plain';
    });
}

// --------------------------------------------------------------------------------------------
// The device
// --------------------------------------------------------------------------------------------

let device = null;
let deviceExit = null;
let terminating = false; // set when the script sends SIGTERM

function startDevice(uri) {
    const [cmd, ...rest] = opts.device.map((a) => a.split('{server}').join(uri));
    console.log(`${stamp()} run ${[cmd, ...rest].join(' ')}`);
    device = childProcess.spawn(cmd, rest, {stdio: ['ignore', 'pipe', 'pipe']});
    deviceExit = new Promise((resolve) => {
        device.on('exit', (code, signal) => resolve({code, signal}));
        device.on('error', (error) => resolve({code: null, signal: null, error}));
    });
    // A device that ends before it is told to fails the run at once, rather than every step
    // after it timing out.
    deviceExit.then((exit) => {
        if (!terminating) {
            fail('device', exit.error ? `cannot start: ${exit.error.message}`
                : `exited (${exit.code === null ? `signal ${exit.signal}` : `status ${exit.code}`}) before SIGTERM`);
            finish();
        }
    });
    for (const stream of [device.stdout, device.stderr]) {
        let partial = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk) => {
            const lines = (partial + chunk).split('\n');
            partial = lines.pop();
            for (const line of lines) {
                deviceLines.push(`${stamp()} ${line}`);
            }
        });
        stream.on('end', () => {
            if (partial) {
                deviceLines.push(`${stamp()} ${partial}`);
            }
        });
    }
}

function killDevice() {
    if (device && device.exitCode === null && device.signalCode === null) {
        device.kill('SIGKILL');
    }
}

process.on('exit', killDevice);

function waitExit(ms) {
    return Promise.race([deviceExit, new Promise((resolve) => setTimeout(() => resolve(null), ms))]);
}

// --------------------------------------------------------------------------------------------
// Payload helpers
// --------------------------------------------------------------------------------------------

// SenML JSON (RFC 8428) records resolved to {name: value}: the base name carries over to the
// records after it until another `bn`.
function senmlValues(text) {
    let records;
    try {
        records = JSON.parse(text);
    } catch (e) {
        throw new StepError(`not SenML JSON (${e.message}): ${text}`);
    }
    check(Array.isArray(records), `SenML JSON is not an array: ${text}`);
    let base = '';
    const out = {};
    for (const r of records) {
        if (typeof r.bn === 'string') {
            base = r.bn;
        }
        const value = ['v', 'vs', 'vb', 'vd', 'vlo'].find((k) => k in r);
        out[base + (r.n || '')] = value === undefined ? undefined : r[value];
    }
    return out;
}

// CoRE link format (RFC 6690) targets, in order.
function linkTargets(text) {
    return text.split(',').map((l) => (l.match(/^\s*<([^>]*)>/) || [])[1]).filter((t) => t !== undefined);
}

// --------------------------------------------------------------------------------------------
// Steps
// --------------------------------------------------------------------------------------------

let deviceId = null; // the library's registration id
let lastRefresh = null; // when the device last registered or updated

// The library answers Register 2.01 with a single Location-Path option "rd/N" (a '/' inside
// one segment, where RFC 7252 §5.10.7 has one option per segment: "rd", "N"). A conforming
// device echoes the segment as one Uri-Path option "rd/N", which node-coap joins back into
// the path /rd/N that the library routes, so Update and De-register work all the same.
async function stepRegister() {
    const reg = await nextEvent('register', 10000, 'Register');
    lastRefresh = reg.at;
    check(reg.endpoint === opts.endpoint, `endpoint ${reg.endpoint}, expected ${opts.endpoint}`);
    check(Number(reg.lifetime) === opts.lifetime, `lifetime lt=${reg.lifetime}, expected ${opts.lifetime}`);
    const links = linkTargets(reg.payload);
    for (const want of ['/1/0', '/3/0', ...opts.expectObjects]) {
        check(links.includes(want), `object ${want} not in the Register payload: ${reg.payload}`);
    }
    const registered = await call('registry lookup', lwm2m.server.getDevice, opts.endpoint);
    deviceId = registered.id;
    console.log(`${stamp()} Register payload: ${reg.payload}`);
    pass('register', `ep=${reg.endpoint} lt=${reg.lifetime} lwm2m=${reg.version} b=${reg.binding}, ` +
        `${links.length} links, registration ${deviceId}`);
}

let instance = null; // /3/0 as read in SenML JSON

async function stepReadInstance() {
    // An empty resource id makes the library's '/3/0/' path, sent as Uri-Path 3, 0.
    const text = await withAccept('application/senml+json',
        () => call('Read /3/0', lwm2m.server.read, deviceId, '3', '0', ''));
    instance = senmlValues(text);
    // Manufacturer and the Mandatory Supported Binding and Modes; the Python device has no
    // UTC Offset until it is written.
    for (const r of ['/3/0/0', '/3/0/16']) {
        check(r in instance, `${r} missing from /3/0: ${text}`);
    }
    pass('read-instance', `/3/0 in SenML JSON, ${Object.keys(instance).length} values`);
}

async function stepReadResource() {
    const text = await call('Read /3/0/0', lwm2m.server.read, deviceId, '3', '0', '0');
    check(text.length > 0, 'empty manufacturer');
    if (instance) {
        check(text === instance['/3/0/0'], `text/plain "${text}" differs from the instance's "${instance['/3/0/0']}"`);
    }
    pass('read-resource', `/3/0/0 = "${text}"`);
}

async function stepWrite() {
    const value = '+02:00';
    await call('Write /3/0/14', lwm2m.server.write, deviceId, '3', '0', '14', value);
    const back = await call('Read /3/0/14', lwm2m.server.read, deviceId, '3', '0', '14');
    check(back === value, `read back "${back}" after writing "${value}"`);
    pass('write', `/3/0/14 = "${value}", read back`);
}

async function stepExecute() {
    // Drop Updates already queued, so the one counted is the Execute's.
    events.splice(0, events.length, ...events.filter((e) => e.kind !== 'update'));
    const sent = Date.now();
    await call('Execute /1/0/8', lwm2m.server.execute, deviceId, '1', '0', '8', null);
    const up = await nextEvent('update', STEP_TIMEOUT_MS, 'Update after Execute /1/0/8');
    pass('execute', `/1/0/8 answered 2.04, Update ${up.at - sent} ms later`);
    lastRefresh = up.at;
}

async function stepDiscover() {
    const text = await call('Discover /3/0', lwm2m.server.discover, deviceId, '3', '0');
    const targets = linkTargets(text);
    check(targets[0] === '/3/0', `first link is not </3/0>: ${text}`);
    // Manufacturer, Reboot (executable), the UTC Offset written above, Supported Binding.
    for (const r of ['/3/0/0', '/3/0/4', '/3/0/14', '/3/0/16']) {
        check(targets.includes(r), `${r} missing from Discover /3/0: ${text}`);
    }
    pass('discover', `/3/0: ${targets.length} links`);
}

// Observes /O/I/R (or /O/I with r === '') until `count` notifications came after the first
// answer, or `windowMs` passed. lwm2m-node-lib calls back once with the first answer (the one
// carrying Observe, or an error), then `handler` for every notification after it.
function observeUntil(o, i, r, count, windowMs) {
    const seen = {first: null, notifications: []};
    return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(seen), windowMs);
        lwm2m.server.observe(deviceId, o, i, r,
            (value) => {
                seen.notifications.push(value);
                if (seen.notifications.length >= count) {
                    clearTimeout(timer);
                    resolve(seen);
                }
            },
            (error, value) => {
                seen.first = error ? `error ${error.name}` : value;
            });
    });
}

// The device's line for the ObservationCancelled event of `path`: "no longer observes P"
// (CLI) or "observation_cancelled ssid=1 P" (C, Python).
function cancelledLine(path) {
    const escaped = path.replace(/\//g, '\\/');
    return new RegExp(`(no longer observes|observation_cancelled ssid=\\d+) ${escaped}(\\s|$)`);
}

// Observe (Core 1.1 §5.5, RFC 7641) of a resource that changes by itself: the first answer
// and two notifications with distinct values; then Cancel. lwm2m-node-lib cancels by
// forgetting the observation (no GET with Observe=1; the NON notifications that still come
// are dropped by its proxy without RST, which RFC 7641 §3.6 allows), so the check here is
// that nothing more reaches the application; that the device ends its observations is
// checked at De-register.
async function stepObserve() {
    const [o, i, r] = opts.observe.split('/').slice(1);
    const seen = await observeUntil(o, i, r, 2, OBSERVE_WINDOW_MS);
    check(seen.first !== null && !String(seen.first).startsWith('error'),
        `Observe ${opts.observe}: ${seen.first === null ? 'no answer carrying Observe' : seen.first}`);
    check(seen.notifications.length >= 2,
        `${seen.notifications.length} notifications of ${opts.observe} in ${OBSERVE_WINDOW_MS / 1000} s`);
    check(seen.notifications[0] !== seen.notifications[1],
        `two notifications of the same value "${seen.notifications[0]}"`);
    await call(`Cancel ${opts.observe}`, lwm2m.server.cancelObserver, deviceId, o, i, r);
    const after = seen.notifications.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    check(seen.notifications.length === after, 'notifications still reach the application after Cancel');
    pass('observe', `first "${seen.first}", then "${seen.notifications.slice(0, 2).join('", "')}"; cancelled`);
}

// Observe of the instance holding that resource: the first answer and a notification, in the
// device's multi-value format.
async function stepObserveInstance() {
    const [o, i] = opts.observe.split('/').slice(1);
    const seen = await withAccept('application/senml+json',
        () => observeUntil(o, i, '', 1, OBSERVE_WINDOW_MS));
    check(seen.first !== null && !String(seen.first).startsWith('error'),
        `Observe /${o}/${i}: ${seen.first === null ? 'no answer carrying Observe' : seen.first}`);
    check(seen.notifications.length >= 1, `no notification of /${o}/${i} in ${OBSERVE_WINDOW_MS / 1000} s`);
    const first = senmlValues(seen.first);
    const next = senmlValues(seen.notifications[0]);
    check(opts.observe in first && opts.observe in next,
        `${opts.observe} missing from the SenML of /${o}/${i}: ${seen.notifications[0]}`);
    await call(`Cancel /${o}/${i}`, lwm2m.server.cancelObserver, deviceId, o, i, '');
    pass('observe-instance', `/${o}/${i} in SenML JSON: ${opts.observe} "${first[opts.observe]}" then ` +
        `"${next[opts.observe]}"`);
}

async function stepUpdate() {
    const lifetimeMs = opts.lifetime * 1000;
    const wait = Math.max(lastRefresh + lifetimeMs - Date.now(), 0) + 500;
    const up = await nextEvent('update', wait, `Update within the ${opts.lifetime} s lifetime`);
    const gap = up.at - lastRefresh;
    check(gap < lifetimeMs, `Update came ${gap} ms after the last refresh, lifetime is ${lifetimeMs} ms`);
    const expired = events.find((e) => e.kind === 'expired');
    check(!expired, 'the server dropped the registration for an expired lifetime');
    lastRefresh = up.at;
    pass('update', `${(gap / 1000).toFixed(1)} s after the last refresh, lifetime ${opts.lifetime} s`);
}

async function stepDeregister() {
    terminating = true;
    device.kill('SIGTERM');
    const ev = await nextEvent('deregister', STEP_TIMEOUT_MS, 'De-register after SIGTERM');
    check(String(ev.device.id) === String(deviceId), `De-register of registration ${ev.device.id}, expected ${deviceId}`);
    const exit = await waitExit(10000);
    check(exit !== null, 'device still running 10 s after SIGTERM');
    check(!exit.error, `device: ${exit.error}`);
    check(exit.code === 0, `device exited with ${exit.code === null ? `signal ${exit.signal}` : exit.code}`);
    // De-registration ends every observation (Core 1.1 §5.5): the device reports the end of
    // the one the server forgot without telling it.
    check(deviceLines.some((l) => cancelledLine(opts.observe).test(l)),
        `the device did not end the observation of ${opts.observe} at De-register`);
    pass('deregister', 'DELETE answered 2.02, observations ended, device exited 0');
}

async function main() {
    const overall = setTimeout(() => {
        fail('timeout', `the run took over ${opts.timeout} s`);
        finish();
    }, opts.timeout * 1000);

    let serverInfo;
    try {
        config.port = await freePort();
        serverInfo = await startServer();
        installHandlers(serverInfo);
    } catch (e) {
        fail('server', `lwm2m-node-lib did not start: ${e.stack || e}`);
        return finish();
    }
    const uri = `coap://${HOST}:${config.port}`;
    console.log(`${stamp()} lwm2m-node-lib server on ${uri}`);
    startDevice(uri);

    const steps = [
        ['register', stepRegister, true],
        ['read-instance', stepReadInstance],
        ['read-resource', stepReadResource],
        ['write', stepWrite],
        ['execute', stepExecute],
        ['discover', stepDiscover],
        ['observe', stepObserve],
        ['observe-instance', stepObserveInstance],
        ['update', stepUpdate],
        ['deregister', stepDeregister],
    ];
    for (const [name, run, vital] of steps) {
        try {
            await run();
        } catch (e) {
            fail(name, e instanceof StepError ? e.message : (e.stack || String(e)));
            if (vital) {
                break;
            }
        }
    }
    clearTimeout(overall);
    // No lwm2m.server.stop(): with an observation open it throws (informationReporting.clean
    // calls close() on the plain response it keeps for a device that answered without
    // Observe). Exiting closes the sockets.
    return finish();
}

let finished = false;

function finish() {
    if (finished) {
        return;
    }
    finished = true;
    terminating = true;
    killDevice();
    // Give the device's pipes a moment to deliver what it printed last.
    setTimeout(() => {
        console.log(`--- device transcript\n${deviceLines.join('\n')}\n---`);
        if (failures.length === 0) {
            console.log('PASS all');
            process.exit(0);
        }
        console.log(`FAILED: ${failures.join(', ')}`);
        process.exit(1);
    }, 100);
}

main();
