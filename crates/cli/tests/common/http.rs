//! A small HTTP/1.1 server on 127.0.0.1 for the tests: each request gets the [`Reply`] the
//! test's handler picks, every request is recorded, and dropping the server stops it (its
//! thread is joined, held connections are closed) before the test ends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub body: Vec<u8>,
}

/// What the server does with a connection.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Read the request, answer with this status and body.
    Status(u16, Vec<u8>),
    /// Read the request, answer with these bytes as they are.
    Raw(Vec<u8>),
    /// Read the request and never answer (the connection stays open until the server stops).
    Stall,
    /// Accept the connection and never read nor answer.
    Silent,
}

type Handler = dyn Fn(usize) -> Reply + Send + 'static;

pub struct TestServer {
    base: String,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<Request>>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts serving; `handler` gets the number of the connection (0, 1, ...).
    pub fn start(handler: impl Fn(usize) -> Reply + Send + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let stop = Arc::clone(&stop);
            let requests = Arc::clone(&requests);
            let handler: Box<Handler> = Box::new(handler);
            std::thread::spawn(move || serve(&listener, &stop, &requests, &*handler))
        };
        TestServer {
            base,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    listener: &TcpListener,
    stop: &AtomicBool,
    requests: &Mutex<Vec<Request>>,
    handler: &Handler,
) {
    let mut held: Vec<TcpStream> = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(_) => continue,
        };
        let reply = handler(n);
        n += 1;
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        if matches!(reply, Reply::Silent) {
            held.push(stream);
            continue;
        }
        if let Some(request) = read_request(&stream) {
            requests.lock().expect("lock").push(request);
        }
        match reply {
            Reply::Status(status, body) => {
                let mut stream = stream;
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
                let _ = stream.flush();
            }
            Reply::Raw(bytes) => {
                let mut stream = stream;
                let _ = stream.write_all(&bytes);
                let _ = stream.flush();
            }
            Reply::Stall | Reply::Silent => held.push(stream),
        }
    }
    drop(held);
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let method = words.next()?.to_owned();
    let target = words.next()?.to_owned();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        target,
        body,
    })
}
