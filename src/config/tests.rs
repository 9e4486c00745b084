use std::path::Path;

use super::*;
use crate::route::ReplayPolicy;

fn env(name: &str) -> Option<String> {
    (name == "FLOW_SECRET").then(|| "s3cret".to_owned())
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("gw.yaml"), Path::new("."), &env)
}

fn errors(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

const GOOD: &str = "\
listen: 127.0.0.1:8080
upstream: http://127.0.0.1:3000
routes:
  - name: orders
    path: /webhooks/orders
    provider: flow
    secrets: [env:FLOW_SECRET, literal-two]
  - name: custom
    path_prefix: /hooks/
    upstream: http://10.0.0.1:9000/base/
    scheme:
      algorithm: sha512
      encoding: base64
      signature_header: X-Sig
      timestamp_header: X-Ts
      signed_payload: '{timestamp}.{body}'
    secrets: [abc]
    tolerance_seconds: 60
";

#[test]
fn a_good_config_loads_with_defaults() {
    let config = parse(GOOD).unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.timeouts.upstream, Duration::from_secs(30));
    assert_eq!(
        config.replay,
        ReplaySettings::Memory {
            max_entries: 1_000_000
        }
    );
    let orders = config.routes.find("/webhooks/orders").unwrap().1;
    assert_eq!(&*orders.name, "orders");
    assert_eq!(orders.secret_count, 2);
    assert_eq!(orders.replay, ReplayPolicy::Window(300));
    assert_eq!(orders.max_body_bytes, 1 << 20);
    let custom = config.routes.find("/hooks/anything").unwrap().1;
    assert_eq!(custom.upstream.to_string(), "http://10.0.0.1:9000/base");
    assert_eq!(custom.replay, ReplayPolicy::UntilStale);
    assert_eq!(custom.verifier.tolerance(), 60);
    assert!(config.routes.find("/webhooks/orders/x").is_none());
    assert!(config.routes.find("/hooks").is_none());
}

#[test]
fn typo_names_line_column_and_key() {
    let text = GOOD.replace("    secrets: [abc]", "    secretz: [abc]");
    assert_eq!(
        errors(&text),
        "gw.yaml:17:5: routes[1].secretz: unknown field `secretz`, expected one of name, path, \
         path_prefix, provider, scheme, algorithm, secrets, public_key, public_keys, public_url, \
         verify_token, topic_arns, webhook_id, jwks_url, upstream, tolerance_seconds, replay, \
         replay_window_seconds, duplicates, max_body_bytes, handshake, mode, rate_limit, delivery"
    );
}

#[test]
fn every_semantic_problem_is_reported_with_its_location() {
    let text = "\
listen: nowhere
routes:
  - name: a
    path: /a
    provider: flw
    secrets: [env:NOPE]
    upstream: ftp://x
  - name: a
    path: /a
    provider: flow
    secrets: [x]
";
    let all = crate::scheme::preset_names().count();
    assert_eq!(
        errors(text),
        format!(
            "gw.yaml:1:9: listen: `nowhere` is not an address such as 127.0.0.1:8080\n\
         gw.yaml:5:15: routes[0].provider: unknown provider `flw`; did you mean `flow`? (docs/providers.md lists all {all})\n\
         gw.yaml:6:15: routes[0].secrets[0]: environment variable NOPE is not set\n\
         gw.yaml:7:15: routes[0].upstream: `ftp://x`: must be an absolute http:// or https:// URL with a host, such as http://127.0.0.1:3000\n\
         gw.yaml:8:11: routes[1].name: duplicate route name `a` (first defined at line 3)\n\
         gw.yaml:8:11: routes[1].upstream: no upstream: set `upstream` on the route or at the top level\n\
         gw.yaml:9:11: routes[1]: path /a is already claimed by the route at line 4"
        )
    );
}

#[test]
fn scheme_problems_point_into_the_scheme_block() {
    let text = "\
listen: 127.0.0.1:1
upstream: http://127.0.0.1:2
routes:
  - name: a
    path: /a
    scheme:
      signature_header: X-Sig
      signed_payload: '{timestamp}'
    secrets: [x]
    tolerance_seconds: 5
";
    assert_eq!(
        errors(text),
        "gw.yaml:8:23: routes[0].scheme.signed_payload: uses {timestamp} but the scheme has no \
         timestamp_header or signature_list.timestamp_key"
    );
}

#[test]
fn options_that_cannot_apply_are_refused() {
    let text = GOOD.replace("    tolerance_seconds: 60", "    replay_window_seconds: 60");
    assert!(errors(&text).contains("routes[1].replay_window_seconds: has no effect"));
    let text = GOOD.replace(
        "    secrets: [env:FLOW_SECRET, literal-two]",
        "    secrets: [env:FLOW_SECRET]\n    tolerance_seconds: 10",
    );
    assert!(errors(&text).contains("routes[0].tolerance_seconds: has no effect"));
}

#[test]
fn yaml_syntax_and_type_errors_have_locations() {
    assert!(errors("listen: [").starts_with("gw.yaml:1:"));
    let text = GOOD.replace(
        "upstream: http://127.0.0.1:3000",
        "upstream: http://127.0.0.1:3000\nmax_body_bytes: lots",
    );
    assert!(
        errors(&text).starts_with("gw.yaml:3:17: max_body_bytes: "),
        "{}",
        errors(&text)
    );
}

#[test]
fn secrets_never_appear_in_errors() {
    let text = GOOD
        .replace("literal-two", "hunter2-secret-value")
        .replace("name: custom", "name: orders");
    let message = errors(&text);
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
}

#[test]
fn operations_keys_load_and_are_validated_where_they_are_written() {
    let text = "\
listen: 127.0.0.1:8080
admin_listen: 127.0.0.1:9090
upstream: https://app.internal:8443
replay:
  store: redis
  redis_url: env:FLOW_SECRET
routes:
  - name: a
    path: /a
    provider: flow
    secrets: [x]
    mode: observe
    rate_limit: { per_second: 50 }
";
    // env:FLOW_SECRET resolves to `s3cret`, which is no URL; the message must not quote it.
    let e = errors(text);
    assert_eq!(
        e,
        "gw.yaml:6:14: replay.redis_url: is not a URL such as redis://127.0.0.1:6379/0"
    );
    let good = text.replace("env:FLOW_SECRET", "'redis://:pw@127.0.0.1:6379/0'");
    let config = parse(&good).unwrap();
    assert_eq!(config.admin_listen, Some("127.0.0.1:9090".parse().unwrap()));
    let ReplaySettings::Redis(redis) = &config.replay else {
        panic!("not redis: {:?}", config.replay);
    };
    assert_eq!(redis.key_prefix, DEFAULT_REDIS_KEY_PREFIX);
    assert!(
        !format!("{:?}", config.replay).contains("pw@"),
        "the URL never prints"
    );
    let (_, route) = config.routes.find("/a").unwrap();
    assert_eq!(route.mode, Mode::Observe);
    let limit = route.rate_limit.unwrap();
    assert_eq!((limit.per_second.get(), limit.burst.get()), (50, 50));
    assert_eq!(route.upstream.scheme, http::uri::Scheme::HTTPS);
}

#[test]
fn store_specific_keys_on_the_wrong_store_and_bad_limits_are_refused() {
    let text = "\
listen: 127.0.0.1:8080
admin_listen: 127.0.0.1:8080
upstream: http://127.0.0.1:3000
replay: { max_entries: 10, redis_url: 'redis://x', key_prefix: p }
tls: { cert_file: missing.pem, key_file: missing.key }
routes:
  - name: a
    path: /a
    provider: flow
    secrets: [x]
    rate_limit: { per_second: 0, burst: 5000000000 }
    mode: enforce
";
    let e = errors(text);
    for expected in [
        "gw.yaml:2:15: admin_listen: must differ from `listen`",
        "gw.yaml:4:39: replay.redis_url: applies to `store: redis` only",
        "gw.yaml:4:64: replay.key_prefix: applies to `store: redis` only",
        "gw.yaml:5:6: tls: cannot read certificates from ./missing.pem",
        "gw.yaml:11:31: routes[0].rate_limit.per_second: must be between 1 and 4294967295",
        "gw.yaml:11:41: routes[0].rate_limit.burst: must be between 1 and 4294967295",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
    let redis_without_url = "\
listen: 127.0.0.1:8080
upstream: http://127.0.0.1:3000
replay: { store: redis, max_entries: 5 }
routes: [{ name: a, path: /a, provider: flow, secrets: [x] }]
";
    let e = errors(redis_without_url);
    assert!(
        e.contains("gw.yaml:3:18: replay.redis_url: `store: redis` needs a redis_url"),
        "{e}"
    );
    assert!(
        e.contains("gw.yaml:3:38: replay.max_entries: applies to `store: memory` only"),
        "{e}"
    );
}

#[test]
fn a_redis_ca_file_must_exist_hold_certificates_and_go_with_rediss() {
    let missing = "\
listen: 127.0.0.1:8080
upstream: http://127.0.0.1:3000
replay: { store: redis, redis_url: 'rediss://cache:6380/0', redis_ca_file: missing-ca.pem }
routes: [{ name: a, path: /a, provider: flow, secrets: [x] }]
";
    let e = errors(missing);
    assert!(
        e.contains(
            "gw.yaml:3:76: replay.redis_ca_file: cannot read certificates from ./missing-ca.pem"
        ),
        "{e}"
    );
    let plain = "\
listen: 127.0.0.1:8080
upstream: http://127.0.0.1:3000
replay: { store: redis, redis_url: 'redis://cache:6379/0', redis_ca_file: ca.pem }
routes: [{ name: a, path: /a, provider: flow, secrets: [x] }]
";
    let e = errors(plain);
    assert!(
        e.contains("replay.redis_ca_file: applies to rediss:// URLs only"),
        "{e}"
    );
    let memory = "\
listen: 127.0.0.1:8080
upstream: http://127.0.0.1:3000
replay: { redis_ca_file: ca.pem }
routes: [{ name: a, path: /a, provider: flow, secrets: [x] }]
";
    assert!(errors(memory).contains("replay.redis_ca_file: applies to `store: redis` only"));
}

#[test]
fn catalog_keys_are_checked_where_they_are_written() {
    let text = "\
listen: 127.0.0.1:1
upstream: http://127.0.0.1:2
routes:
  - name: tw
    path: /tw
    provider: twilio
    secrets: [token]
  - name: gh
    path: /gh
    provider: github
    secrets: [s]
    public_url: https://x.example
    verify_token: t
  - name: dc
    path: /dc
    provider: discord
    secrets: [s]
  - name: sg
    path: /sg
    provider: sendgrid
    public_key: not-a-key
  - name: meta
    path: /meta
    provider: meta
    secrets: [s]
  - name: sw
    path: /sw
    provider: standard-webhooks
    secrets: ['whsec_!!']
  - name: sq
    path: /sq
    provider: square
    secrets: [k]
    public_url: https://x.example/?q=1
";
    assert_eq!(
        errors(text),
        "gw.yaml:4:11: routes[0].public_url: this scheme signs the URL the sender posts to; set public_url to its scheme, host and any path prefix, e.g. https://hooks.example.com\n\
         gw.yaml:12:17: routes[1].public_url: has no effect: this scheme does not sign the URL\n\
         gw.yaml:13:19: routes[1].verify_token: has no effect: only the meta_subscribe, strava_subscribe, oura_verification and ebay_challenge handshakes use it\n\
         gw.yaml:17:14: routes[2].secrets: this scheme is verified with `public_key`, not `secrets`\n\
         gw.yaml:21:17: routes[3].public_key: public_key is neither hex, base64 nor PEM\n\
         gw.yaml:22:11: routes[4].verify_token: the meta_subscribe handshake needs the verify token entered in the sender's dashboard (or set `handshake: false`)\n\
         gw.yaml:29:14: routes[5].secrets: secret 0: is not valid base64 (the scheme's secret_encoding)\n\
         gw.yaml:34:17: routes[6].public_url: `https://x.example/?q=1` is not an absolute http(s) URL without a query"
    );
    let ok = text
        .replace("    secrets: [token]\n", "    secrets: [token]\n    public_url: https://x.example\n")
        .replace("    public_url: https://x.example\n    verify_token: t\n  - name: dc", "  - name: dc")
        .replace("provider: discord\n    secrets: [s]", &format!("provider: discord\n    public_key: {}", "ab".repeat(32)))
        .replace("public_key: not-a-key", "public_key: MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9q9UU8I5mEovUf86QZ7kOBIjJwqnzD1omageEHWwHdBO6B+dFabmdT9POxg==")
        .replace("secrets: [s]\n  - name: sw", "secrets: [s]\n    verify_token: env:FLOW_SECRET\n  - name: sw")
        .replace("whsec_!!", "whsec_c2VjcmV0")
        .replace("https://x.example/?q=1", "https://x.example/base/");
    let config = parse(&ok).unwrap_or_else(|e| panic!("{e}\n{ok}"));
    assert_eq!(config.routes.iter().count(), 7);
}

#[test]
fn duplicates_are_rejected_by_default_and_acknowledged_only_with_replay_on() {
    let text = "\
listen: 127.0.0.1:1
upstream: http://127.0.0.1:2
routes:
  - name: a
    path: /a
    provider: github
    secrets: [s]
  - name: b
    path: /b
    provider: svix
    secrets: [whsec_c2VjcmV0]
    duplicates: acknowledge
  - name: c
    path: /c
    provider: github
    secrets: [s]
    replay: false
    duplicates: acknowledge
";
    assert_eq!(
        errors(text),
        "gw.yaml:18:17: routes[2].duplicates: has no effect: replay protection is off on this route"
    );
    let config = parse(&text.replace("    replay: false\n", "")).unwrap();
    let duplicates = |path| config.routes.find(path).unwrap().1.duplicates;
    assert_eq!(duplicates("/a"), Duplicates::Reject);
    assert_eq!(duplicates("/b"), Duplicates::Acknowledge);
    let typo = errors(&text.replace(
        "duplicates: acknowledge\n  - name: c",
        "duplicates: ignore\n  - name: c",
    ));
    assert!(typo.starts_with("gw.yaml:12:17: "), "{typo}");
    assert!(typo.contains("acknowledge"), "{typo}");
}

#[test]
fn route_paths_must_be_normalized_and_unique_in_every_spelling() {
    let route = |path: &str| {
        format!(
            "listen: 127.0.0.1:8080\nupstream: http://127.0.0.1:3000\nroutes:\n  - name: a\n    path: {path}\n    provider: flow\n    secrets: [x]\n"
        )
    };
    assert_eq!(
        errors(&route("/a/../orders")),
        "gw.yaml:5:11: routes[0].path: `/a/../orders` is not in normalized form; requests are matched normalized, write `/orders`"
    );
    assert_eq!(
        errors(&route("/a%2Fb")),
        "gw.yaml:5:11: routes[0].path: `/a%2Fb`: the path holds a character that apps read differently; no request can match it"
    );
    let twice = "listen: 127.0.0.1:8080\nupstream: http://127.0.0.1:3000\nroutes:\n  - name: a\n    path: /Orders\n    provider: flow\n    secrets: [x]\n  - name: b\n    path: /orders/\n    provider: flow\n    secrets: [x]\n";
    assert!(
        errors(twice).contains("routes[1]: path /orders is already claimed by the route at line 5"),
        "{}",
        errors(twice)
    );
}

#[test]
fn upstream_credentials_never_appear_in_errors() {
    let with = |upstream: &str| {
        format!(
            "listen: 127.0.0.1:8080\nupstream: '{upstream}'\nroutes:\n  - name: a\n    path: /a\n    provider: flow\n    secrets: [x]\n"
        )
    };
    let err = errors(&with("http://admin:hunter2@app:3000/"));
    assert!(!err.contains("hunter2") && !err.contains("admin"), "{err}");
    assert!(
        err.contains("`http://***@app:3000/`: must not carry credentials"),
        "{err}"
    );
    let err = errors(&with("http://admin:hunter2@app:3000/a b"));
    assert!(!err.contains("hunter2"), "{err}");
    assert_eq!(without_credentials("https://h:1/p@x"), "https://h:1/p@x");
}

#[test]
fn durable_delivery_is_validated_where_it_is_written() {
    let durable = |route_extra: &str, top: &str| {
        format!(
            "listen: 127.0.0.1:8080\nupstream: http://127.0.0.1:3000\n{top}routes:\n  - name: orders\n    path: /o\n    provider: flow\n    secrets: [a]\n{route_extra}"
        )
    };
    let config = parse(&durable(
        "    delivery: { mode: durable, ack_status: 202, concurrency: 2, ordering: route }\n",
        "queue: { path: q/queue.db, max_deliveries: 10 }\n",
    ))
    .unwrap();
    let queue = config.queue.as_ref().unwrap();
    assert_eq!(
        (queue.path().unwrap(), queue.max_deliveries),
        (Path::new("./q/queue.db"), 10)
    );
    let route = config.routes.by_name("orders").unwrap();
    let crate::route::Delivery::Durable(d) = route.delivery else {
        panic!("{:?}", route.delivery)
    };
    assert_eq!(
        (d.ack_status, d.concurrency.get(), d.ordering),
        (202, 2, crate::route::Ordering::Route)
    );
    assert_eq!(d.retry.give_up_after_seconds, 259_200);

    let no_queue = errors(&durable("    delivery: { mode: durable }\n", ""));
    assert!(
        no_queue.contains("gw.yaml:8:") && no_queue.contains("needs a top-level `queue:`"),
        "{no_queue}"
    );
    let observe = errors(&durable(
        "    mode: observe\n    delivery: { mode: durable }\n",
        "queue: {}\n",
    ));
    assert!(
        observe.contains("routes[0].delivery") && observe.contains("observe"),
        "{observe}"
    );
    let status = errors(&durable(
        "    delivery: { mode: durable, ack_status: 201 }\n",
        "queue: {}\n",
    ));
    assert!(
        status.contains("ack_status") && status.contains("200, 202 or 204"),
        "{status}"
    );
    let retry = errors(&durable(
        "    delivery: { mode: durable, retry: { first_seconds: 10, max_seconds: 5 } }\n",
        "queue: {}\n",
    ));
    assert!(
        retry.contains("max_seconds must be at least first_seconds"),
        "{retry}"
    );
    // Sync is today's behaviour and needs no queue.
    assert!(parse(&durable("    delivery: { mode: sync }\n", "")).is_ok());
}

#[test]
fn the_redis_queue_is_validated_where_it_is_written() {
    let config = |queue: &str, delivery: &str| {
        format!(
            "listen: 127.0.0.1:8080\nupstream: http://127.0.0.1:3000\ntimeouts: {{ upstream_seconds: 20 }}\nqueue: {{ store: redis{queue} }}\nroutes:\n  - name: orders\n    path: /o\n    provider: flow\n    secrets: [a]\n    delivery: {{ mode: durable{delivery} }}\n"
        )
    };
    let parsed = parse(&config(", redis_url: redis://127.0.0.1:6379/2", "")).unwrap();
    let queue = parsed.queue.as_ref().unwrap();
    let crate::queue::StoreSettings::Redis(redis) = &queue.store else {
        panic!("{queue:?}")
    };
    assert_eq!(
        (
            redis.key_prefix.as_str(),
            redis.claim_after.as_secs(),
            redis.allow_weak_durability,
            redis.replica_wait
        ),
        ("hookgate:queue:", 30, false, None),
        "claim_after defaults past the upstream timeout"
    );
    let tuned = parse(&config(
        ", redis_url: redis://h/0, claim_after_seconds: 45, allow_weak_durability: true, replica_wait_ms: 50",
        "",
    ))
    .unwrap();
    let Some(crate::queue::StoreSettings::Redis(redis)) = tuned.queue.map(|q| q.store) else {
        panic!()
    };
    assert_eq!(
        (
            redis.claim_after.as_secs(),
            redis.allow_weak_durability,
            redis.replica_wait
        ),
        (45, true, Some(std::time::Duration::from_millis(50)))
    );

    let missing = errors(&config("", ""));
    assert!(
        missing.contains("gw.yaml:4:") && missing.contains("needs a redis_url"),
        "{missing}"
    );
    let path = errors(&config(", redis_url: redis://h/0, path: q.db", ""));
    assert!(
        path.contains("queue.path: applies to `store: embedded` only"),
        "{path}"
    );
    let claim = errors(&config(
        ", redis_url: redis://h/0, claim_after_seconds: 20",
        "",
    ));
    assert!(
        claim.contains(
            "queue.claim_after_seconds: must be longer than timeouts.upstream_seconds (20 s)"
        ),
        "{claim}"
    );
    let ordered = errors(&config(", redis_url: redis://h/0", ", ordering: route"));
    assert!(
        ordered.contains("routes[0].delivery.ordering") && ordered.contains("embedded"),
        "{ordered}"
    );
    let url = errors(&config(", redis_url: \"not a url\"", ""));
    assert!(url.contains("queue.redis_url: is not a URL"), "{url}");
    let embedded = errors(
        "listen: 127.0.0.1:8080\nupstream: http://127.0.0.1:3000\nqueue: { claim_after_seconds: 5 }\nroutes: []\n",
    );
    assert!(
        embedded.contains("queue.claim_after_seconds: applies to `store: redis` only"),
        "{embedded}"
    );
}

#[test]
fn a_key_set_url_must_be_on_the_scheme_s_pinned_hosts() {
    let route = |extra: &str| {
        format!(
            "listen: 127.0.0.1:8080\nupstream: http://127.0.0.1:3000\nroutes:\n  - name: fb\n    path: /fb\n    provider: fireblocks-v2\n{extra}"
        )
    };
    assert!(parse(&route("")).is_ok());
    assert!(
        parse(&route(
            "    jwks_url: https://keys.eu1.fireblocks.io/jwks.json\n"
        ))
        .is_ok()
    );
    for (url, why) in [
        ("https://evil.example/jwks.json", "host is not pinned"),
        ("http://keys.fireblocks.io/jwks.json", "not https"),
        ("https://keys.fireblocks.io:8443/jwks.json", "names a port"),
        ("https://127.0.0.1/jwks.json", "host is not pinned"),
        (
            "https://fireblocks.io@127.0.0.1/jwks.json",
            "carries user info",
        ),
    ] {
        let text = route(&format!("    jwks_url: {url}\n"));
        let message = errors(&text);
        assert!(
            message.starts_with("gw.yaml:7:15: routes[0].jwks_url: `"),
            "{url}: {message}"
        );
        assert!(message.contains(why), "{url}: {message}");
        assert!(message.contains("*.fireblocks.io"), "{url}: {message}");
    }
    let flow = "listen: 127.0.0.1:8080\nupstream: http://127.0.0.1:3000\nroutes:\n  - name: f\n    path: /f\n    provider: flow\n    secrets: [s]\n    jwks_url: https://keys.fireblocks.io/x\n";
    assert!(errors(flow).contains("routes[0].jwks_url: has no effect"));
    let keyed = route("    public_key: abc\n");
    assert!(errors(&keyed).contains("routes[0].public_key: has no effect"));
}
