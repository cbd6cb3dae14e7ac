package dev.rlog.agent.ship;

import dev.rlog.agent.auth.BearerTokenInterceptor;
import dev.rlog.proto.log.ChunkAck;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.protobuf.ProtoUtils;
import java.io.InputStream;
import java.util.Objects;

/**
 * {@link ChunkTransport} over a gRPC channel: one {@code LogService.Ship} call per {@link #open}.
 * Requests are sent as {@link WireChunk#encode} made them (a head and the batch's own data,
 * drained by gRPC into its buffers), so no {@code Chunk} message object is built and the data is
 * copied once. Acks are tiny and at most one per chunk in the window,
 * so all of them are requested up front: the call's methods are then only ever used by the
 * shipper thread (a {@code ClientCall} must not be used from two threads at once).
 */
public final class GrpcChunkTransport implements ChunkTransport {
  /** Requests only go out; a chunk is never parsed on this side. */
  private static final MethodDescriptor.Marshaller<WireChunk.Encoded> ENCODED =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(WireChunk.Encoded value) {
          return value.stream();
        }

        @Override
        public WireChunk.Encoded parse(InputStream stream) {
          throw new UnsupportedOperationException("the agent does not receive chunks");
        }
      };

  static final MethodDescriptor<WireChunk.Encoded, ChunkAck> SHIP = LogServiceGrpc.getShipMethod()
      .toBuilder(ENCODED, ProtoUtils.marshaller(ChunkAck.getDefaultInstance())).build();

  private final Channel channel;

  /** @param channel the collector's channel, carrying a {@link BearerTokenInterceptor} */
  public GrpcChunkTransport(Channel channel) {
    this.channel = Objects.requireNonNull(channel, "channel");
  }

  @Override
  public Stream open(String accessToken, Listener listener) {
    ClientCall<WireChunk.Encoded, ChunkAck> call = channel.newCall(SHIP,
        CallOptions.DEFAULT.withOption(BearerTokenInterceptor.ACCESS_TOKEN, accessToken));
    call.start(new ClientCall.Listener<>() {
      @Override
      public void onMessage(ChunkAck ack) {
        listener.onAck(ack.getSeq());
      }

      @Override
      public void onReady() {
        listener.onReady();
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        listener.onClosed(status);
      }
    }, new Metadata());
    call.request(Integer.MAX_VALUE);
    return new Stream() {
      @Override
      public boolean isReady() {
        return call.isReady();
      }

      @Override
      public void send(WireChunk.Encoded chunk) {
        call.sendMessage(chunk);
      }

      @Override
      public void halfClose() {
        call.halfClose();
      }

      @Override
      public void cancel(String why) {
        call.cancel(why, null);
      }
    };
  }
}
