//! Request heads shared by the benchmarks.

/// A browser-shaped request head with `n` fields (the first ten are the usual suspects).
pub fn head(n: usize) -> Vec<u8> {
    let common = [
        "Host: www.example.com",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language: en-US,en;q=0.5",
        "Accept-Encoding: gzip, deflate, br, zstd",
        "Connection: keep-alive",
        "Cookie: session=8f2c1d9e7b6a5f4e3d2c1b0a; theme=dark; consent=1",
        "Upgrade-Insecure-Requests: 1",
        "Sec-Fetch-Dest: document",
        "Sec-Fetch-Mode: navigate",
    ];
    let mut out = String::from("GET /products/42/reviews?page=2&sort=recent HTTP/1.1\r\n");
    for i in 0..n {
        match common.get(i) {
            Some(line) => out.push_str(line),
            None => out.push_str(&format!("X-Custom-Header-{i}: value-{i}-abcdefghijklmnop")),
        }
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}
