//! The client's address behind forwarding proxies. Spin reports the peer it
//! accepted the connection from (`spin-client-addr`); behind a load balancer
//! that is the balancer, and every throttle keyed on it would count the whole
//! tenant as one client. The operator names its proxies (`trusted_proxies`,
//! off by default); only when the peer is one of them is `X-Forwarded-For`
//! believed, read right to left past every trusted hop, so a client cannot
//! pick its own address by sending the header itself.

use std::net::IpAddr;

/// One address or CIDR block (`10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    net: IpAddr,
    prefix: u8,
}

impl Block {
    pub fn parse(text: &str) -> Option<Self> {
        let (ip, prefix) = match text.split_once('/') {
            Some((ip, p)) => (
                ip.trim().parse::<IpAddr>().ok()?,
                Some(p.trim().parse::<u8>().ok()?),
            ),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { net: ip, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> (u128, u8) {
            match ip {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
                IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                    Some(v4) => (u128::from(u32::from(v4)) << 96, 32),
                    None => (u128::from(v6), 128),
                },
            }
        };
        let (net, net_width) = bits(self.net);
        let (addr, width) = bits(ip);
        if net_width != width {
            return false;
        }
        if self.prefix == 0 {
            return true;
        }
        let mask = u128::MAX << (128 - u32::from(self.prefix));
        net & mask == addr & mask
    }
}

/// The operator's proxies: `trusted_proxies`, a comma-separated list of
/// addresses and CIDR blocks. Entries that do not parse are ignored (and the
/// list is empty by default: no forwarding header is believed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Block>);

impl TrustedProxies {
    pub fn parse(text: &str) -> Self {
        Self(
            text.split(',')
                .filter(|s| !s.trim().is_empty())
                .filter_map(Block::parse)
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|b| b.contains(ip))
    }

    /// The client address of a request from `peer` carrying these
    /// `X-Forwarded-For` values (in the order received): the peer itself
    /// unless it is trusted; then the nearest hop that is not a trusted
    /// proxy, or the farthest one named if all are. Only `X-Forwarded-For`
    /// counts: it is the header every load balancer appends to, while many
    /// pass a client's own `Forwarded` through untouched, which would let a
    /// client name any address it likes.
    pub fn client(&self, peer: IpAddr, x_forwarded_for: &[&str]) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<IpAddr> = x_forwarded_for
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(parse_hop)
            .collect();
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        client
    }
}

/// One hop of a forwarding header: `192.0.2.1`, `192.0.2.1:4711`,
/// `"[2001:db8::1]:4711"`, `2001:db8::1`; obfuscated or `unknown` ones are
/// none.
fn parse_hop(text: &str) -> Option<IpAddr> {
    let t = text.trim().trim_matches('"');
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = t.parse::<std::net::SocketAddr>() {
        return Some(addr.ip());
    }
    let inner = t.strip_prefix('[')?.split(']').next()?;
    inner.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_match_by_prefix() {
        let b = Block::parse("10.0.0.0/8").unwrap();
        assert!(b.contains(ip("10.1.2.3")));
        assert!(!b.contains(ip("11.0.0.1")));
        assert!(b.contains(ip("::ffff:10.9.9.9")));
        assert!(
            Block::parse("2001:db8::/32")
                .unwrap()
                .contains(ip("2001:db8:1::5"))
        );
        assert!(Block::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(
            !Block::parse("0.0.0.0/0")
                .unwrap()
                .contains(ip("2001:db8::1"))
        );
        assert_eq!(Block::parse("10.0.0.0/33"), None);
        assert_eq!(Block::parse("nope"), None);
    }

    #[test]
    fn headers_count_only_from_a_trusted_peer() {
        let none = TrustedProxies::parse("");
        assert_eq!(none.client(ip("10.0.0.1"), &["1.2.3.4"]), ip("10.0.0.1"));
        let lb = TrustedProxies::parse("10.0.0.0/8, 192.0.2.9");
        // From a stranger, a forged header means nothing.
        assert_eq!(
            lb.client(ip("203.0.113.5"), &["1.2.3.4"]),
            ip("203.0.113.5")
        );
        // Right to left past the trusted hops: the client cannot prepend.
        assert_eq!(
            lb.client(ip("10.0.0.1"), &["6.6.6.6, 1.2.3.4, 192.0.2.9"]),
            ip("1.2.3.4")
        );
        assert_eq!(
            lb.client(ip("10.0.0.1"), &["6.6.6.6", "[2001:db8::7]:99"]),
            ip("2001:db8::7")
        );
        // No usable hop: the peer stays the client.
        assert_eq!(lb.client(ip("10.0.0.1"), &["unknown"]), ip("10.0.0.1"));
        // Every hop trusted: the farthest one named.
        assert_eq!(lb.client(ip("10.0.0.1"), &["10.0.0.2"]), ip("10.0.0.2"));
    }

    #[test]
    fn any_bytes_parse_to_a_list_without_panicking() {
        for text in [
            "",
            ",,",
            "1.2.3.4/",
            "/8",
            "::/200",
            "a,b,10.0.0.0/8",
            "\u{0}",
        ] {
            let _ = TrustedProxies::parse(text);
        }
        assert_eq!(TrustedProxies::parse("a, 10.0.0.0/8").0.len(), 1);
    }
}
