"""The original's transform network, transcribed from its src/transform.py into tf.compat.v1:
a reference written independently of src/, to check that our network computes the same thing,
and the benchmark's baseline. Graph mode, placeholders and one session, as the original ran it.

`training_step` is the original's style.py optimize() step in the same style (its vgg.py loss
network, its three losses, tf.train.AdamOptimizer), with the loss network's weights given.
"""

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1


def _conv_layer(net, weights, strides, relu=True):
    kernel, shift, scale = next(weights)
    net = tf.nn.conv2d(net, kernel, [1, strides, strides, 1], padding="SAME")
    net = _instance_norm(net, shift, scale)
    return tf.nn.relu(net) if relu else net


def _conv_transpose_layer(net, weights, strides):
    kernel, shift, scale = next(weights)
    batch, rows, cols = tf.shape(net)[0], tf.shape(net)[1], tf.shape(net)[2]
    out_shape = tf.stack([batch, rows * strides, cols * strides, kernel.shape[2]])
    net = tf.nn.conv2d_transpose(net, kernel, out_shape, [1, strides, strides, 1], padding="SAME")
    return tf.nn.relu(_instance_norm(net, shift, scale))


def _residual_block(net, weights):
    tmp = _conv_layer(net, weights, 1)
    return net + _conv_layer(tmp, weights, 1, relu=False)


def _instance_norm(net, shift, scale):
    mu, sigma_sq = tf.nn.moments(net, [1, 2], keepdims=True)
    normalized = (net - mu) / (sigma_sq + 1e-3) ** 0.5
    return scale * normalized + shift


def net(image, arrays, trainable=False):
    """image: a float32 tensor (B, H, W, 3); arrays: the 48 checkpoint arrays in order, made
    constants, or variables when trainable."""
    make = v1.Variable if trainable else v1.constant
    weights = iter([tuple(make(a) for a in arrays[i : i + 3]) for i in range(0, 48, 3)])
    conv1 = _conv_layer(image, weights, 1)
    conv2 = _conv_layer(conv1, weights, 2)
    conv3 = _conv_layer(conv2, weights, 2)
    resid = conv3
    for _ in range(5):
        resid = _residual_block(resid, weights)
    conv_t1 = _conv_transpose_layer(resid, weights, 2)
    conv_t2 = _conv_transpose_layer(conv_t1, weights, 2)
    conv_t3 = _conv_layer(conv_t2, weights, 1, relu=False)
    return tf.nn.tanh(conv_t3) * 150 + 255.0 / 2


def stylize(arrays, images):
    """Run the reference on a batch (B, H, W, 3) 0..255; returns the uncropped output, as the
    original's evaluate.py saved it."""
    graph = tf.Graph()
    with graph.as_default():
        placeholder = v1.placeholder(tf.float32, shape=images.shape)
        output = net(placeholder, arrays)
        with v1.Session(graph=graph) as session:
            return session.run(output, {placeholder: np.asarray(images, np.float32)})


def vgg_net(image, layers, arrays, mean):
    """The original's vgg.net on 0..255 RGB: 3x3 convolutions with bias and ReLU, 2x2 max pools
    ('pool' in `layers`); returns {relu name: tensor}."""
    net, outputs, weights = image - mean, {}, iter(arrays)
    for layer in layers:
        if layer == "pool":
            net = tf.nn.max_pool2d(net, 2, 2, padding="SAME")
            continue
        kernel, bias = next(weights)
        net = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(net, v1.constant(kernel), 1, padding="SAME"), v1.constant(bias)))
        outputs[layer[0].replace("conv", "relu")] = net
    return outputs


def _gram(features):
    batch, height, width, channels = features.shape
    flat = tf.reshape(features, (batch, height * width, channels))
    return tf.matmul(tf.transpose(flat, perm=[0, 2, 1]), flat) / (height * width * channels)


def training_step(arrays, vgg, style_image, batch_shape, weights=(7.5, 100.0, 200.0), learning_rate=1e-3):
    """-> step(photos) -> loss: one iteration of the original's optimize(), in one session.

    vgg: (layers, arrays, mean, content layer, style layers) of the loss network."""
    layers, vgg_arrays, mean, content_layer, style_layers = vgg
    content_weight, style_weight, tv_weight = weights
    # The original computed the style targets once, in a graph of their own.
    with tf.Graph().as_default(), v1.Session() as session:
        style = v1.placeholder(tf.float32, shape=style_image.shape)
        net = vgg_net(style, layers, vgg_arrays, mean)
        style_grams = {name: session.run(_gram(net[name]), {style: style_image})[0] for name in style_layers}
    graph = tf.Graph()
    with graph.as_default():
        photos = v1.placeholder(tf.float32, shape=batch_shape)
        content = vgg_net(photos, layers, vgg_arrays, mean)[content_layer]
        preds = globals()["net"](photos / 255.0, arrays, trainable=True)
        features = vgg_net(preds, layers, vgg_arrays, mean)
        batch = batch_shape[0]
        content_size = float(np.prod(content.shape[1:])) * batch
        content_loss = content_weight * (2 * tf.nn.l2_loss(features[content_layer] - content) / content_size)
        style_losses = [
            2 * tf.nn.l2_loss(_gram(features[name]) - style_grams[name]) / style_grams[name].size
            for name in style_layers
        ]
        style_loss = style_weight * tf.add_n(style_losses) / batch
        # The original's _tensor_size leaves the batch out (content_size multiplies it back in).
        tv_y_size = float(np.prod(preds[:, 1:, :, :].shape[1:]))
        tv_x_size = float(np.prod(preds[:, :, 1:, :].shape[1:]))
        y_tv = tf.nn.l2_loss(preds[:, 1:, :, :] - preds[:, : batch_shape[1] - 1, :, :])
        x_tv = tf.nn.l2_loss(preds[:, :, 1:, :] - preds[:, :, : batch_shape[2] - 1, :])
        tv_loss = tv_weight * 2 * (x_tv / tv_x_size + y_tv / tv_y_size) / batch
        loss = content_loss + style_loss + tv_loss
        train = v1.train.AdamOptimizer(learning_rate).minimize(loss)
        session = v1.Session(graph=graph)
        session.run(v1.global_variables_initializer())

    def step(batch_photos):
        return float(session.run([train, loss], {photos: batch_photos})[1])

    return step
