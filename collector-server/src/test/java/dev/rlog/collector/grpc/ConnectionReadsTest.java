package dev.rlog.collector.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.netty.shaded.io.netty.bootstrap.ServerBootstrap;
import io.grpc.netty.shaded.io.netty.buffer.ByteBuf;
import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.ChannelConfig;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import io.grpc.netty.shaded.io.netty.channel.ChannelInitializer;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.IoHandlerFactory;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.RecvByteBufAllocator;
import io.grpc.netty.shaded.io.netty.channel.embedded.EmbeddedChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.netty.shaded.io.netty.util.ReferenceCountUtil;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ConnectionReadsTest {

  // --- the read size, driven as Netty drives it -------------------------------------------

  /** One read loop: reads of the guessed size, each filled to {@code fill} of it. */
  private static int[] loop(RecvByteBufAllocator.ExtendedHandle h, ChannelConfig config,
      int reads, double fill) {
    h.reset(config);
    int[] sizes = new int[reads];
    for (int i = 0; i < reads; i++) {
      int attempt = h.guess();
      sizes[i] = attempt;
      h.attemptedBytesRead(attempt);
      h.lastBytesRead((int) (attempt * fill));
      h.incMessagesRead(1);
    }
    h.readComplete();
    return sizes;
  }

  /** A channel whose allocator is {@code reads}, and a read handle as the channel makes one. */
  private static final class Rig {
    final EmbeddedChannel channel = new EmbeddedChannel();
    final RecvByteBufAllocator.ExtendedHandle handle;

    Rig(ConnectionReads reads) {
      channel.config().setRecvByteBufAllocator(reads);
      handle = (RecvByteBufAllocator.ExtendedHandle) reads.newHandle();
    }

    ChannelConfig config() {
      return channel.config();
    }
  }

  @Test
  void fullReadsGrowUpToTheMaximumAndNoFurther() {
    ConnectionReads reads = new ConnectionReads(512, 4096, 8192);
    Rig r = new Rig(reads);

    assertThat(loop(r.handle, r.config(), 4, 1.0)).containsExactly(4096, 8192, 8192, 8192);
  }

  @Test
  void aChannelGivenLargerReadsAfterItsHandleWasMadeReadsLarger() {
    ConnectionReads reads = new ConnectionReads(512, 4096, 8192);
    Rig r = new Rig(reads); // made once, at first read
    loop(r.handle, r.config(), 2, 1.0);

    r.config().setRecvByteBufAllocator(reads.upTo(65536)); // what ShipWindows does

    assertThat(loop(r.handle, r.config(), 5, 1.0))
        .containsExactly(8192, 16384, 32768, 65536, 65536);
  }

  @Test
  void aChannelGivenSmallerReadsShrinksAtItsNextLoop() {
    ConnectionReads reads = new ConnectionReads(512, 4096, 65536);
    Rig r = new Rig(reads);
    loop(r.handle, r.config(), 6, 1.0);

    r.config().setRecvByteBufAllocator(reads.upTo(8192));

    assertThat(loop(r.handle, r.config(), 2, 1.0)).containsExactly(8192, 8192);
  }

  @Test
  void readsShrinkAfterTwoLoopsThatUsedAtMostHalfAndNeverBelowTheMinimum() {
    ConnectionReads reads = new ConnectionReads(512, 4096, 65536);
    Rig r = new Rig(reads);
    loop(r.handle, r.config(), 5, 1.0); // 4096 .. 65536

    assertThat(loop(r.handle, r.config(), 1, 0.25)).containsExactly(65536); // one small loop: kept
    assertThat(loop(r.handle, r.config(), 1, 0.25)).containsExactly(65536); // second: halved after
    assertThat(loop(r.handle, r.config(), 1, 0.25)).containsExactly(32768);
    for (int i = 0; i < 20; i++) {
      loop(r.handle, r.config(), 1, 0.0);
    }
    assertThat(r.handle.guess()).isEqualTo(512);
  }

  @Test
  void aLoopReadsAtMostSixteenFullBuffers() {
    ConnectionReads reads = new ConnectionReads(512, 4096, 8192);
    Rig r = new Rig(reads);
    var h = r.handle;
    h.reset(r.config());
    int reads16 = 0;
    do {
      h.attemptedBytesRead(h.guess());
      h.lastBytesRead(h.guess());
      h.incMessagesRead(1);
      reads16++;
    } while (h.continueReading());
    assertThat(reads16).isEqualTo(16);
  }

  @Test
  void rejectsSizesOutOfOrder() {
    assertThatThrownBy(() -> new ConnectionReads(0, 4096, 8192))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new ConnectionReads(512, 8192, 4096))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // --- on a real socket, with the transport the collector uses -----------------------------

  /** Records the size of each read and how many reads each socket wakeup made. */
  private static final class ReadLog extends ChannelInboundHandlerAdapter {
    final List<Integer> sizes = new CopyOnWriteArrayList<>();
    final AtomicInteger inLoop = new AtomicInteger();
    final AtomicInteger mostInOneLoop = new AtomicInteger();
    final AtomicLong total = new AtomicLong();
    final CompletableFuture<Channel> channel = new CompletableFuture<>();

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      channel.complete(ctx.channel());
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      int n = ((ByteBuf) msg).readableBytes();
      ReferenceCountUtil.release(msg);
      sizes.add(n);
      mostInOneLoop.accumulateAndGet(inLoop.incrementAndGet(), Math::max);
      total.addAndGet(n);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      inLoop.set(0);
    }
  }

  @Test
  void aRealConnectionReadsSeveralBuffersPerWakeupAndLargerOnesOnceWidened() throws Exception {
    boolean epoll = Epoll.isAvailable();
    IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, io);
    ReadLog log = new ReadLog();
    ConnectionReads reads = new ConnectionReads(512, 4096, 8192);
    try {
      Channel server = new ServerBootstrap()
          .group(group)
          .channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
          .childOption(ChannelOption.RCVBUF_ALLOCATOR, reads)
          .childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
              ch.pipeline().addLast(log);
            }
          })
          .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
      int port = ((InetSocketAddress) server.localAddress()).getPort();
      try (Socket client = new Socket("127.0.0.1", port)) {
        OutputStream out = client.getOutputStream();
        Channel conn = log.channel.get();
        byte[] block = new byte[64 << 10];

        for (int i = 0; i < 32; i++) { // 2 MiB, as fast as the reader takes it
          out.write(block);
        }
        out.flush();
        await().atMost(Duration.ofSeconds(30)).until(() -> log.total.get() == 32L * block.length);
        assertThat(log.sizes).allMatch(n -> n <= 8192);
        assertThat(log.mostInOneLoop.get())
            .as("reads in one wakeup (Netty's adaptive allocator made one)").isGreaterThan(1);

        conn.eventLoop().submit(() -> conn.config().setRecvByteBufAllocator(reads.upTo(65536)))
            .sync();
        log.sizes.clear();
        for (int i = 0; i < 32; i++) {
          out.write(block);
        }
        out.flush();
        await().atMost(Duration.ofSeconds(30)).until(() -> log.total.get() == 64L * block.length);
        assertThat(log.sizes).allMatch(n -> n <= 65536);
        assertThat(log.sizes).anyMatch(n -> n > 8192);
      } finally {
        server.close().sync();
      }
    } finally {
      group.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS).sync();
    }
  }
}
