//! The server speaks HTTPS itself when given a certificate and key.

use satchel_protocol::api::*;
use satchel_protocol::*;
use satchel_test_support::{init_workspace, sqlite_url, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_a_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    init_workspace(&sqlite_url(dir.path())).await.unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();

    let app = satchel_server::App::open(&sqlite_url(dir.path()), &dir.path().join("files"))
        .await
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        satchel_server::serve_tls(listener, app, &cert_path, &key_path, async {
            let _ = stopped.await;
        })
        .await
    });

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap();
    let base = format!("https://localhost:{port}");
    let mut health = None;
    for _ in 0..50 {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            health = Some(r.json::<Health>().await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(health.unwrap().status, "ok");
    let login: LoginResponse = client
        .post(format!("{base}/api/v1/login"))
        .json(&LoginRequest {
            username: "admin".into(),
            password: PASSWORD.into(),
            device_id: DeviceId("tls-test-device".into()),
            device_name: String::new(),
        })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login.member.role, Role::Admin);
    // Plain HTTP to the TLS port is not served.
    assert!(reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .map(|r| !r.status().is_success())
        .unwrap_or(true));

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
