package dev.rlog.collector.tcp;

import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Netty transport the TCP ingest server runs on: epoll when its native library loads, NIO
 * otherwise. The epoll classes are reached reflectively because the Netty BOM scopes the native
 * transport as runtime-only, so they are not on the compile classpath; an epoll failure only
 * means falling back to NIO.
 */
record NettyTransport(
    String name, IoHandlerFactory ioHandlerFactory,
    Class<? extends ServerChannel> serverChannelType) {
  private static final Logger log = LoggerFactory.getLogger(NettyTransport.class);

  static NettyTransport nio() {
    return new NettyTransport("nio", NioIoHandler.newFactory(), NioServerSocketChannel.class);
  }

  /** Epoll if {@code preferNative} and available, else NIO. */
  static NettyTransport choose(boolean preferNative) {
    if (!preferNative) {
      return nio();
    }
    try {
      Class<?> epoll = Class.forName("io.netty.channel.epoll.Epoll");
      if (!(Boolean) epoll.getMethod("isAvailable").invoke(null)) {
        Throwable cause = (Throwable) epoll.getMethod("unavailabilityCause").invoke(null);
        log.info("epoll unavailable, TCP ingest uses NIO: {}", String.valueOf(cause));
        return nio();
      }
      IoHandlerFactory factory = (IoHandlerFactory) Class
          .forName("io.netty.channel.epoll.EpollIoHandler").getMethod("newFactory").invoke(null);
      Class<? extends ServerChannel> channel = Class
          .forName("io.netty.channel.epoll.EpollServerSocketChannel")
          .asSubclass(ServerChannel.class);
      return new NettyTransport("epoll", factory, channel);
    } catch (ReflectiveOperationException | LinkageError | ClassCastException e) {
      log.info("epoll transport not on the classpath, TCP ingest uses NIO: {}", e.toString());
      return nio();
    }
  }
}
