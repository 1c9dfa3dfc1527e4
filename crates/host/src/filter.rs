//! A host's packet policy: the `netfilter` crate attached to the stack's
//! forwarding hook, and reachable by tools (`fw`, `conntrack`).

use std::any::Any;
use std::time::Duration;

use tcplab_netfilter::Netfilter;
use tcplab_stack::{HookPoint, HookVerdict, IfaceId, Instant, PacketHook};

use crate::Host;

/// `Netfilter` as the stack's hook.
#[derive(Debug)]
pub struct NetfilterHook(pub Netfilter);

impl PacketHook for NetfilterHook {
    fn process(
        &mut self,
        point: HookPoint,
        now: Instant,
        in_iface: IfaceId,
        out_iface: Option<IfaceId>,
        datagram: &mut [u8],
    ) -> HookVerdict {
        // The netfilter crate shares the stack's hook types.
        self.0.hook(
            point,
            Duration::from_micros(now.total_micros()),
            in_iface.0,
            out_iface.map(|i| i.0),
            datagram,
        )
    }

    fn not_forwarded(&mut self) {
        self.0.not_forwarded();
    }

    fn untranslate(&mut self, datagram: &mut [u8]) {
        self.0.untranslate(datagram);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl Host {
    /// Attach packet policy to the host's forwarding.
    pub fn install_netfilter(&self, nf: Netfilter) {
        self.with_stack(|s| s.set_hook(Box::new(NetfilterHook(nf))));
    }

    /// Work with the host's packet policy, if it has one.
    pub fn with_netfilter<R>(&self, f: impl FnOnce(&mut Netfilter) -> R) -> Option<R> {
        self.with_stack(|s| {
            s.hook_mut()
                .and_then(|h| h.as_any_mut().downcast_mut::<NetfilterHook>())
                .map(|n| f(&mut n.0))
        })
    }
}
