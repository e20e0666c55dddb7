//! A TCP proxy between the hub and its database that a test can cut and
//! restore: a database outage without stopping the shared server. Cut, it
//! closes every open connection and closes new ones as soon as they come
//! in (what a client sees when the server is stopped or unreachable).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub struct TcpProxy {
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl TcpProxy {
    /// Forward 127.0.0.1:<new port> to `upstream` (host:port).
    pub async fn start(upstream: &str) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let upstream = upstream.to_string();
        let (c, l) = (cut.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let mut client = client;
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                l.lock().unwrap().push(link.abort_handle());
            }
        })
        .abort_handle();
        TcpProxy {
            addr,
            cut,
            links,
            accept,
        }
    }

    /// The database becomes unreachable: open connections are dropped,
    /// new ones closed at once.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }

    /// `url` (a PostgreSQL URL on 127.0.0.1:5432) through this proxy.
    pub fn url(&self, url: &str) -> String {
        url.replacen("127.0.0.1:5432", &self.addr.to_string(), 1)
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
