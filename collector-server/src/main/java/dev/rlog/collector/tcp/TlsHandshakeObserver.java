package dev.rlog.collector.tcp;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sits right behind the {@code SslHandler} of a TLS ingest port: counts failed handshakes and
 * logs the first one at WARN (later ones at DEBUG: a scan or a misconfigured sender must not flood
 * the log), then removes itself once a handshake succeeded. The {@code SslHandler} closes the
 * connection; the frame handler behind never sees a byte of it.
 *
 * <p>One instance per connection, on its event loop; the "logged once" flag is shared.
 */
final class TlsHandshakeObserver extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(TlsHandshakeObserver.class);

  private final TcpIngestMetrics metrics;
  private final AtomicBoolean failureLogged;

  TlsHandshakeObserver(TcpIngestMetrics metrics, AtomicBoolean failureLogged) {
    this.metrics = metrics;
    this.failureLogged = failureLogged;
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof SslHandshakeCompletionEvent done) {
      if (done.isSuccess()) {
        ctx.pipeline().remove(this);
      } else {
        metrics.tlsHandshakeFailed();
        String peer = FrameIngestHandler.peerOf(ctx.channel().remoteAddress());
        String why = rootMessage(done.cause());
        if (failureLogged.compareAndSet(false, true)) {
          log.warn("TCP ingest: TLS handshake with {} failed, connection closed: {} (further"
              + " failures are logged at DEBUG and counted)", peer, why);
        } else {
          log.debug("TCP ingest: TLS handshake with {} failed: {}", peer, why);
        }
      }
    }
    ctx.fireUserEventTriggered(evt);
  }

  /**
   * Reached only before a successful handshake (this handler leaves the pipeline then): the
   * error belongs to the failed handshake, counted above; the frame handler must not log it as a
   * connection error.
   */
  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("TCP ingest: TLS error before the handshake completed: {}", cause.toString());
    ctx.close();
  }

  private static String rootMessage(Throwable t) {
    Throwable c = t;
    while (c.getCause() != null && c.getCause() != c) {
      c = c.getCause();
    }
    return c.getClass().getSimpleName() + (c.getMessage() == null ? "" : ": " + c.getMessage());
  }
}
