"""qualedge.benchmarks: conversion evidence, latency and quality benchmarks, reports. May use every stage."""
