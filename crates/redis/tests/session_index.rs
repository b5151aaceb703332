//! The back-channel logout index in a real `redis-server` (feature `axum`): a logout that one
//! replica receives ends the logins another replica indexed, entries live their ttl after the
//! last use, and Redis never holds a `sub` or `sid` in clear.
#![cfg(feature = "axum")]

#[path = "support/redis_server.rs"]
#[allow(dead_code)]
mod redis_server;

use std::time::Duration;

use authing_oidc_axum::backchannel::{LogoutKey, SessionIndex};
use authing_oidc_redis::fred::interfaces::ClientLike as _;
use authing_oidc_redis::fred::types::CustomCommand;
use authing_oidc_redis::{Keyring, RedisSessionIndex, RedisSessionStore, SessionKey};
use redis_server::RedisServer;

const ISS: &str = "https://issuer.example.com/oidc";

/// One replica: its own client (connection) to the shared Redis.
async fn replica(redis: &RedisServer) -> (RedisSessionStore, RedisSessionIndex) {
    let keys = Keyring::new(SessionKey::new("k1", secrecy::SecretBox::new(Box::new([7; 32]))).unwrap());
    let store = RedisSessionStore::connect(&redis.url(), keys).await.unwrap();
    let index = store.session_index();
    (store, index)
}

fn sid(value: &str) -> LogoutKey {
    LogoutKey::Sid {
        iss: ISS.to_owned(),
        sid: value.to_owned(),
    }
}

fn sub(value: &str) -> LogoutKey {
    LogoutKey::Sub {
        iss: ISS.to_owned(),
        sub: value.to_owned(),
    }
}

#[tokio::test]
async fn a_logout_received_by_one_replica_ends_the_logins_of_another() {
    let redis = RedisServer::start();
    let (_a_store, a) = replica(&redis).await;
    let (_b_store, b) = replica(&redis).await;

    // Alice signed in twice, once through each replica; Bob once.
    a.add("login-a1", &[sub("alice-sub"), sid("op-session-1")])
        .await
        .unwrap();
    b.add("login-b1", &[sub("alice-sub"), sid("op-session-2")])
        .await
        .unwrap();
    a.add("login-a2", &[sub("bob-sub"), sid("op-session-3")])
        .await
        .unwrap();

    // The provider ends Alice's first provider session; the token reaches replica B.
    assert_eq!(
        b.end(&sid("op-session-1")).await.unwrap(),
        vec!["login-a1".to_owned()]
    );
    assert!(a.is_ended("login-a1").await.unwrap(), "A sees B's logout");
    assert!(!a.is_ended("login-b1").await.unwrap());
    assert!(!b.is_ended("login-a2").await.unwrap());
    // The ended login is no longer indexed under Alice's sub: a logout of the user ends only
    // her other login.
    assert_eq!(
        a.end(&sub("alice-sub")).await.unwrap(),
        vec!["login-b1".to_owned()]
    );
    assert!(b.is_ended("login-b1").await.unwrap());
    // Nothing is left under the keys that were ended; Bob is untouched.
    assert!(b.end(&sid("op-session-2")).await.unwrap().is_empty());
    assert!(!a.is_ended("login-a2").await.unwrap());
    // Another issuer's user with the same sub is another key.
    let other = LogoutKey::Sub {
        iss: "https://other.example.com".to_owned(),
        sub: "bob-sub".to_owned(),
    };
    assert!(b.end(&other).await.unwrap().is_empty());
    assert!(!a.is_ended("login-a2").await.unwrap());
}

#[tokio::test]
async fn forget_unindexes_and_clears_the_ended_marker() {
    let redis = RedisServer::start();
    let (_store, index) = replica(&redis).await;
    index.add("login-1", &[sub("carol-sub")]).await.unwrap();
    index.add("login-2", &[sub("carol-sub")]).await.unwrap();
    index.forget("login-1").await.unwrap();
    assert_eq!(
        index.end(&sub("carol-sub")).await.unwrap(),
        vec!["login-2".to_owned()]
    );
    assert!(index.is_ended("login-2").await.unwrap());
    index.forget("login-2").await.unwrap();
    assert!(
        !index.is_ended("login-2").await.unwrap(),
        "a forgotten login is not ended either"
    );
}

#[tokio::test]
async fn entries_live_their_ttl_after_the_last_use() {
    let redis = RedisServer::start();
    let (store, _) = replica(&redis).await;
    let index = store.session_index().with_ttl(Duration::from_millis(1_500));
    index.add("active", &[sub("dave-sub")]).await.unwrap();
    index.add("idle", &[sub("erin-sub")]).await.unwrap();
    // The active login is used (is_ended on each of its requests) well within its ttl, for
    // longer than the ttl; the idle one is not.
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(!index.is_ended("active").await.unwrap());
    }
    assert_eq!(
        index.end(&sub("dave-sub")).await.unwrap(),
        vec!["active".to_owned()]
    );
    assert!(
        index.end(&sub("erin-sub")).await.unwrap().is_empty(),
        "an entry unused for longer than its ttl is gone"
    );
    // The ended marker lives its ttl too.
    assert!(index.is_ended("active").await.unwrap());
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert!(!index.is_ended("active").await.unwrap());
}

#[tokio::test]
async fn redis_holds_no_sub_or_sid_in_clear_and_bad_login_ids_are_refused() {
    let redis = RedisServer::start();
    let (store, index) = replica(&redis).await;
    index
        .add("login-1", &[sub("CANARY-SUB-7d1f"), sid("CANARY-SID-93ab")])
        .await
        .unwrap();
    let names: Vec<String> = store
        .client()
        .custom(CustomCommand::new_static("KEYS", None, false), vec!["*"])
        .await
        .unwrap();
    assert_eq!(names.len(), 3, "one record and two key sets: {names:?}");
    for name in &names {
        assert!(
            !name.contains("CANARY") && !name.contains("issuer.example"),
            "{name}"
        );
        let kind: String = store
            .client()
            .custom(
                CustomCommand::new_static("TYPE", None, false),
                vec![name.as_str()],
            )
            .await
            .unwrap();
        let value: Vec<String> = match kind.as_str() {
            "set" => store
                .client()
                .custom(
                    CustomCommand::new_static("SMEMBERS", None, false),
                    vec![name.as_str()],
                )
                .await
                .unwrap(),
            _ => vec![
                store
                    .client()
                    .custom(CustomCommand::new_static("GET", None, false), vec![name.as_str()])
                    .await
                    .unwrap(),
            ],
        };
        assert!(value.iter().all(|v| !v.contains("CANARY")), "{name}: {value:?}");
    }
    assert!(
        names.contains(&index.key_set(&sub("CANARY-SUB-7d1f"))),
        "{names:?}"
    );
    assert!(
        names.contains(&index.key_set(&sid("CANARY-SID-93ab"))),
        "{names:?}"
    );

    for bad in ["", "two words", "line\nbreak"] {
        assert!(index.add(bad, &[sub("x")]).await.is_err(), "{bad:?}");
        assert!(index.is_ended(bad).await.is_err(), "{bad:?}");
    }
}
