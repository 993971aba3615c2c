"""The original's transform network, transcribed from its src/transform.py into tf.compat.v1:
a reference written independently of src/, to check that our network computes the same thing.
Graph mode, placeholders and one session, as the original ran it."""

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


def net(image, arrays):
    """image: a float32 tensor (B, H, W, 3); arrays: the 48 checkpoint arrays in order."""
    weights = iter([tuple(v1.constant(a) for a in arrays[i : i + 3]) for i in range(0, 48, 3)])
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
