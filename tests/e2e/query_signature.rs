//! A signature in the query string (PandaDoc's `?signature=`): percent-decoded, read once,
//! and the target reaches the app unchanged. A repeated or missing parameter is refused
//! with nothing forwarded, so no hop's choice of copy can change what was verified.

use crate::support::{Upstream, one_route, post};

#[tokio::test]
async fn a_query_signature_is_read_once_and_the_target_is_forwarded_unchanged() {
    let upstream = Upstream::start().await;
    let gw = one_route(
        &upstream,
        "    provider: pandadoc\n    secrets: [shared-key]\n",
    )
    .in_process()
    .await;
    let body = br#"[{"event":"document_state_changed"}]"#;
    let tag = hookgate::verify::KeyedMac::new(hookgate::scheme::Algorithm::Sha256, b"shared-key")
        .tag_of(body);
    let signature = hex::encode(tag.as_bytes());
    let refused = [
        format!("/hook?signature={signature}&signature={signature}"),
        "/hook?event=x".to_owned(),
        format!("/hook?signature={}", "0".repeat(64)),
        format!("/hook?signature={signature}%zz"),
    ];
    for target in &refused {
        let reply = post(gw.addr, target, &[], body).await;
        assert_eq!(reply.status, 401, "{target}: {reply:?}");
    }
    assert_eq!(upstream.count(), 0);
    // Percent-encoded and in upper case, it is the same signature.
    let encoded: String = signature
        .to_uppercase()
        .chars()
        .map(|c| format!("%{:02X}", c as u8))
        .collect();
    let target = format!("/hook?a=1&signature={encoded}");
    let reply = post(gw.addr, &target, &[], body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(upstream.received()[0].uri, target);
}
