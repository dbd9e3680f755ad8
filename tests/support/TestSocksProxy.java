//DEPS io.netty:netty-codec-socks:4.1.136.Final
//DEPS io.netty:netty-handler:4.1.136.Final
// Netty as fabric8's Vert.x client brings it (vertx-dependencies 4.5.31: netty 4.1.136.Final): one Netty on the class path.

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.socksx.SocksMessage;
import io.netty.handler.codec.socksx.SocksPortUnificationServerHandler;
import io.netty.handler.codec.socksx.v5.DefaultSocks5CommandResponse;
import io.netty.handler.codec.socksx.v5.DefaultSocks5InitialResponse;
import io.netty.handler.codec.socksx.v5.Socks5AuthMethod;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequest;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5CommandStatus;
import io.netty.handler.codec.socksx.v5.Socks5CommandType;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequest;
import io.netty.handler.codec.socksx.v5.Socks5ServerEncoder;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real SOCKS5 proxy inside the test JVM, so that a user without root (who cannot install
 * microsocks) runs every test. The protocol is Netty's (netty-codec-socks: its decoders and
 * encoders for RFC 1928's greeting and CONNECT request, the same codec Netty's own SOCKS server
 * example and Vert.x use); what is ours is only the relay between the two sockets.
 *
 * <p>It listens on 127.0.0.1 at a free port and binds its outgoing side to
 * {@link #outgoingAddress()} (microsocks' {@code -b}): a server that accepts only connections from
 * that address proves the traffic went through the proxy, since a direct connection comes from
 * 127.0.0.1. Only CONNECT and "no authentication" are offered, as microsocks without {@code -u}.
 */
final class TestSocksProxy implements AutoCloseable {

    /** Where proxied connections come from: a loopback address nothing else uses. */
    static final String OUTGOING = "127.0.0.7";

    private static TestSocksProxy shared;

    private final EventLoopGroup group;
    private final Channel server;
    private final int port;
    private final String outgoing;
    private final AtomicInteger connects = new AtomicInteger();

    private TestSocksProxy(EventLoopGroup group, Channel server, int port, String outgoing) {
        this.group = group;
        this.server = server;
        this.port = port;
        this.outgoing = outgoing;
    }

    /** One proxy for the whole run, stopped at its end. */
    static synchronized TestSocksProxy shared() {
        if (shared == null || !shared.server.isActive()) {
            shared = start(OUTGOING);
            TestSupport.closeAtEnd(shared);
        }
        return shared;
    }

    /** Starts a proxy on a free loopback port whose outgoing connections come from {@code outgoingAddress}. */
    static TestSocksProxy start(String outgoingAddress) {
        EventLoopGroup group = new NioEventLoopGroup(2, r -> {
            Thread t = new Thread(r, "test-socks5");
            t.setDaemon(true);
            return t;
        });
        AtomicInteger connects = new AtomicInteger();
        TestSocksProxy[] self = new TestSocksProxy[1];
        try {
            Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            // Detects the SOCKS version and installs the v5 decoder; refuses v4 by closing.
                            ch.pipeline().addLast(new SocksPortUnificationServerHandler(Socks5ServerEncoder.DEFAULT),
                                    new Socks5Handshake(group, outgoingAddress, () -> self[0].connects.incrementAndGet()));
                        }
                    })
                    .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            int port = ((InetSocketAddress) server.localAddress()).getPort();
            self[0] = new TestSocksProxy(group, server, port, outgoingAddress);
            return self[0];
        } catch (Exception e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new IllegalStateException("cannot start the test SOCKS5 proxy: " + e, e);
        }
    }

    /** The greeting (no authentication) then one CONNECT, after which the two channels are relayed. */
    private static final class Socks5Handshake extends SimpleChannelInboundHandler<SocksMessage> {
        private final EventLoopGroup group;
        private final String outgoing;
        private final Runnable onConnect;

        Socks5Handshake(EventLoopGroup group, String outgoing, Runnable onConnect) {
            this.group = group;
            this.outgoing = outgoing;
            this.onConnect = onConnect;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, SocksMessage msg) {
            if (msg instanceof Socks5InitialRequest initial) {
                if (!initial.authMethods().contains(Socks5AuthMethod.NO_AUTH)) {
                    ctx.writeAndFlush(new DefaultSocks5InitialResponse(Socks5AuthMethod.UNACCEPTED)).addListener(ChannelFutureListener.CLOSE);
                    return;
                }
                ctx.pipeline().addFirst(new Socks5CommandRequestDecoder());
                ctx.writeAndFlush(new DefaultSocks5InitialResponse(Socks5AuthMethod.NO_AUTH));
            } else if (msg instanceof Socks5CommandRequest request && request.type() == Socks5CommandType.CONNECT) {
                connect(ctx, request);
            } else if (msg instanceof Socks5CommandRequest request) {
                ctx.writeAndFlush(new DefaultSocks5CommandResponse(Socks5CommandStatus.COMMAND_UNSUPPORTED, request.dstAddrType()))
                        .addListener(ChannelFutureListener.CLOSE);
            } else {
                ctx.close(); // SOCKS4 or garbage: microsocks closes as well
            }
        }

        private void connect(ChannelHandlerContext ctx, Socks5CommandRequest request) {
            Channel client = ctx.channel();
            client.config().setAutoRead(false);
            new Bootstrap().group(group).channel(NioSocketChannel.class)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
                    .handler(new Relay(client))
                    .connect(new InetSocketAddress(request.dstAddr(), request.dstPort()), new InetSocketAddress(outgoing, 0))
                    .addListener((ChannelFutureListener) f -> {
                        if (!f.isSuccess()) {
                            client.writeAndFlush(new DefaultSocks5CommandResponse(Socks5CommandStatus.FAILURE, request.dstAddrType()))
                                    .addListener(ChannelFutureListener.CLOSE);
                            return;
                        }
                        onConnect.run();
                        Channel upstream = f.channel();
                        client.writeAndFlush(new DefaultSocks5CommandResponse(Socks5CommandStatus.SUCCESS, request.dstAddrType(),
                                request.dstAddr(), request.dstPort())).addListener((ChannelFutureListener) sent -> {
                            // From here on the client's bytes are the tunnel's: no more SOCKS codecs.
                            var p = client.pipeline();
                            p.remove(Socks5Handshake.this);
                            if (p.get(Socks5ServerEncoder.class) != null) p.remove(Socks5ServerEncoder.class);
                            p.addLast(new Relay(upstream));
                            client.config().setAutoRead(true);
                        });
                    });
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** Copies what one channel reads to the other; closing either closes both. */
    private static final class Relay extends ChannelInboundHandlerAdapter {
        private final Channel peer;

        Relay(Channel peer) {
            this.peer = peer;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (peer.isActive()) peer.writeAndFlush(msg);
            else io.netty.util.ReferenceCountUtil.release(msg);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (peer.isActive()) peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** A port nothing listens on right now (also handy as a "proxy that is down"). */
    static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    int port() {
        return port;
    }

    /** e.g. {@code socks5h://127.0.0.1:PORT}. */
    String url(String scheme) {
        return scheme + "://127.0.0.1:" + port;
    }

    String outgoingAddress() {
        return outgoing;
    }

    /** How many CONNECTs the proxy has relayed so far. */
    int connects() {
        return connects.get();
    }

    @Override
    public void close() {
        server.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
}
